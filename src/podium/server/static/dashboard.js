// The Podium dashboard's only script: live updates, picking a task on the graph
// or the timeline for a re-run, confirmations. Pages carry their data in data-*
// attributes; nothing here evaluates text from a page, and the HTML fragments it
// swaps in are rendered (and escaped) by the server.
(function () {
  "use strict";

  const $ = (selector, root) => (root || document).querySelector(selector);
  const $$ = (selector, root) => Array.from((root || document).querySelectorAll(selector));

  // -- confirmations -------------------------------------------------------------------
  document.addEventListener("submit", (event) => {
    const button = event.submitter;
    const question = button && button.dataset.confirm;
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // -- live state indicator ---------------------------------------------------------------
  function liveState(text, state) {
    const dot = $("#live-state");
    if (!dot) return;
    dot.textContent = text;
    dot.classList.toggle("off", state === "off");
    dot.classList.toggle("stale", state === "stale");
  }

  async function fetchText(url) {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "text/html" } });
    if (!response.ok || response.redirected) throw new Error(`${response.status}`);
    return response.text();
  }

  // Refreshes at most once per `delay` ms, however often it is asked.
  function throttled(refresh, delay) {
    let timer = null;
    let again = false;
    return function ask() {
      if (timer) { again = true; return; }
      timer = setTimeout(async () => {
        try { await refresh(); } finally {
          timer = null;
          if (again) { again = false; ask(); }
        }
      }, delay);
    };
  }

  // -- the instances list ------------------------------------------------------------------
  function liveList() {
    const rows = $("#rows[data-live]");
    if (!rows) return;
    async function refresh() {
      const checked = new Set($$("input[name=id]:checked").map((box) => box.value));
      const before = new Map($$("tr[data-id]", rows).map((row) => [row.dataset.id, row.dataset.status]));
      try {
        rows.innerHTML = await fetchText(rows.dataset.live);
        liveState("live", "on");
      } catch (error) {
        liveState("not updating", "stale");
        return;
      }
      for (const row of $$("tr[data-id]", rows)) {
        const box = $("input[name=id]", row);
        if (box && checked.has(box.value)) box.checked = true;
        if (before.size && before.get(row.dataset.id) !== row.dataset.status) row.classList.add("flash-row");
      }
      selection();
    }
    const ask = throttled(refresh, 400);
    follow(rows.dataset.stream, ["instance"], ask, 3000);
  }

  // Server-sent events from the API when the browser has them, else (or once the
  // stream is refused for good) polling every `every` ms; returns a stop function.
  function follow(url, events, ask, every) {
    let timer = null;
    let stream = null;
    const poll = () => { if (!timer) timer = setInterval(ask, every); };
    if (window.EventSource && url) {
      stream = new EventSource(url);
      for (const name of events) stream.addEventListener(name, ask);
      stream.onopen = () => liveState("live", "on");
      stream.onerror = () => {
        if (stream.readyState === EventSource.CLOSED) { poll(); } else { liveState("reconnecting", "stale"); }
      };
    } else {
      poll();
    }
    return () => {
      if (stream) stream.close();
      if (timer) clearInterval(timer);
    };
  }

  function selection() {
    const boxes = $$("input[name=id]");
    const count = boxes.filter((box) => box.checked).length;
    const all = $("#select-all");
    if (all) all.checked = boxes.length > 0 && count === boxes.length;
    const label = $("#selected-count");
    if (label) label.textContent = count ? `${count} selected` : "Tick instances to act on them together.";
    for (const button of $$("[data-needs-selection]")) button.disabled = count === 0;
  }

  document.addEventListener("change", (event) => {
    if (event.target.id === "select-all") {
      for (const box of $$("input[name=id]")) box.checked = event.target.checked;
    }
    if (event.target.name === "id" || event.target.id === "select-all") selection();
  });

  // -- one instance ----------------------------------------------------------------------------
  let selected = null;

  function select(reference) {
    selected = reference;
    for (const element of $$(".selected")) element.classList.remove("selected");
    if (!reference) return;
    for (const element of $$("[data-ref]")) {
      if (element.dataset.ref === reference) element.classList.add("selected");
    }
    const chooser = $("#rerun-from");
    if (chooser && Array.from(chooser.options).some((option) => option.value === reference)) {
      chooser.value = reference;
    }
  }

  function pick(event) {
    const target = event.target.closest("svg.graph .selectable[data-ref], svg.timeline .row[data-ref]");
    if (!target) return false;
    select(target.dataset.ref);
    return true;
  }

  document.addEventListener("click", (event) => {
    if (pick(event)) return;
    const link = event.target.closest("[data-select]");
    if (link) {
      event.preventDefault();
      highlight(link.dataset.select);
    }
    if (event.target.id === "expand-all") {
      const details = $$("#journal details");
      const open = !details.every((item) => item.open);
      for (const item of details) item.open = open;
      event.target.textContent = open ? "Collapse all" : "Expand all";
    }
  });

  document.addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === " ") && pick(event)) event.preventDefault();
  });

  document.addEventListener("change", (event) => {
    if (event.target.id === "rerun-from") select(event.target.value);
  });

  function highlight(reference) {
    const node = $$("svg.graph [data-ref]").find((element) => element.dataset.ref === reference);
    if (!node) return;
    node.scrollIntoView({ block: "center", behavior: "smooth" });
    node.classList.add("highlight");
    setTimeout(() => node.classList.remove("highlight"), 1600);
  }

  function liveInstance() {
    const live = $("#live[data-live]");
    if (!live || live.dataset.active !== "true") return;
    let ended = false;
    let stop = null;
    async function refresh() {
      if (ended) return;
      const open = new Set($$("#journal details[open]").map((item) => item.dataset.seq));
      const scroll = window.scrollY;
      let html;
      try {
        html = await fetchText(live.dataset.live);
      } catch (error) {
        liveState("not updating", "stale");
        return;
      }
      live.innerHTML = html;
      for (const item of $$("#journal details")) item.open = open.has(item.dataset.seq);
      window.scrollTo(0, scroll);
      select(selected);
      const panel = $(".summary-panel", live);
      const status = panel ? panel.dataset.status : "";
      if (["completed", "faulted", "cancelled"].includes(status)) {
        ended = true;
        liveState("ended", "off");
        if (stop) stop();
      } else {
        liveState("live", "on");
      }
    }
    const ask = throttled(refresh, 300);
    stop = follow(live.dataset.stream, ["entry", "instance", "end"], ask, 1500);
  }

  document.addEventListener("DOMContentLoaded", () => {
    liveList();
    liveInstance();
    selection();
  });
})();
