"""The dashboard in a real browser: Debian's Chromium driven by Python playwright
against ``podium serve`` (a real process: the API, the dashboard and the
embedded worker over a SQLite store).

The walk-through: the overview; the list filtered to one workflow and its
faulted tab; a faulted instance (its graph shows the task that faulted, the
error is shown, a ``<script>`` in its input is text); retry it once the
service it called is back, and watch it complete without reloading; re-run it
from a task picked on the graph; its definition. The page never logs an error
(a Content-Security-Policy violation would). Screenshots of each step are saved in
``tests/server/dashboard/artifacts/``."""

from __future__ import annotations

import json
import signal
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Dialog, Page, expect, sync_playwright

from tests.cli.support import COMMAND, REPO, environment, eventually
from tests.support.nats_server import free_port

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).parent / "artifacts"
SCRIPT = "<script>alert(1)</script>"
STEP_TIMEOUT_MS = 20_000


@dataclass
class Warehouse:
    """A stock service that answers 503 until it is back online."""

    online: bool = False
    hits: int = 0
    url: str = ""
    _server: ThreadingHTTPServer | None = field(default=None, repr=False)

    def start(self) -> None:
        warehouse = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                warehouse.hits += 1
                ok = warehouse.online
                body = json.dumps({"sku": "A-1", "available": 7} if ok
                                  else {"error": "warehouse offline"}).encode()
                self.send_response(200 if ok else 503)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/stock"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()


def order(stock_url: str) -> str:
    return f"""\
document: {{dsl: '1.0.3', namespace: shop, name: order, version: '1.0.0'}}
do:
  - validate:
      set:
        order: ${{ .id }}
        amount: ${{ .amount }}
        note: ${{ .note }}
  - route:
      switch:
        - large:
            when: .amount > 100
            then: review
        - default:
            then: reserve
  - review:
      wait: {{milliseconds: 50}}
  - reserve:
      call: http
      with:
        method: get
        endpoint: {stock_url}
  - ship:
      for: {{each: item, in: '${{ [1, 2] }}'}}
      do:
        - pack:
            set: {{packed: '${{ $item }}'}}
  - notify:
      fork:
        branches:
          - email:
              set: {{email: sent}}
          - sms:
              set: {{sms: sent}}
"""


QUOTE = """\
document: {dsl: '1.0.3', namespace: shop, name: quote, version: '1.0.0'}
do:
  - price:
      set: {price: 42}
"""


@dataclass
class Served:
    base: str
    warehouse: Warehouse

    def api(self, method: str, path: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, f"{self.base}/api/v1{path}", timeout=10, **kw)

    def instance(self, instance_id: str) -> dict[str, Any]:
        shown: dict[str, Any] = self.api("GET", f"/instances/{instance_id}").json()
        return shown


@pytest.fixture
def chromium() -> Path:
    assert CHROMIUM.exists(), (
        "the dashboard's browser tests need Debian's Chromium at /usr/bin/chromium "
        "(`apt-get install chromium`; .ci/run installs it)")
    return CHROMIUM


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    """``podium serve`` (open, on loopback) with its worker, over a new SQLite file."""
    warehouse = Warehouse()
    warehouse.start()
    port = free_port()
    log = (tmp_path / "serve.log").open("w", encoding="utf-8")
    server = subprocess.Popen(
        [*COMMAND, "serve", "--store", f"sqlite:///{tmp_path / 'podium.db'}",
         "--port", str(port)],
        stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, text=True,
        env=environment({"PODIUM_API_TOKENS": ""}), cwd=REPO)
    served = Served(f"http://127.0.0.1:{port}", warehouse)

    def answers() -> bool:
        try:
            return served.api("GET", "/health").status_code == 200
        except httpx.TransportError:
            return False

    try:
        eventually(answers, what="podium serve to answer")
        yield served
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        warehouse.stop()
    assert "Traceback" not in (tmp_path / "serve.log").read_text(encoding="utf-8")


def shot(page: Page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest.mark.timeout(240)
def test_walk_through_the_dashboard(chromium: Path, served: Served) -> None:
    for text in (order(served.warehouse.url), QUOTE):
        assert served.api("POST", "/definitions", content=text).status_code == 201
    for _ in range(2):
        assert served.api("POST", "/instances", json={"workflow": "shop/quote"}).status_code \
            == 201
    started = served.api("POST", "/instances", json={
        "workflow": "shop/order", "input": {"id": "o-1", "amount": 250, "note": SCRIPT}})
    failing = started.json()["id"]
    eventually(lambda: served.instance(failing)["status"] == "faulted",
               what="the order to fault while the warehouse is offline")

    dialogs: list[str] = []

    def answer(dialog: Dialog) -> None:
        dialogs.append(dialog.type)
        dialog.accept()

    expect.set_options(timeout=STEP_TIMEOUT_MS)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(chromium),
                                             args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.set_default_timeout(STEP_TIMEOUT_MS)
            page.on("dialog", answer)
            errors: list[str] = []
            requested: list[str] = []
            page.on("request", lambda request: requested.append(request.url))
            page.on("pageerror", lambda error: errors.append(str(error)))
            page.on("console", lambda message: errors.append(message.text)
                    if message.type == "error" else None)
            walk(page, served, failing)
            assert errors == [], errors
            # live updates came over the API's server-sent events
            streams = {url.split("?")[0] for url in requested if "/stream" in url}
            assert f"{served.base}/api/v1/instances/stream" in streams
            assert f"{served.base}/api/v1/instances/{failing}/stream" in streams
        finally:
            browser.close()
    # the only dialogs were the dashboard's own confirmations: the input's script never ran
    assert dialogs and set(dialogs) == {"confirm"}


def walk(page: Page, served: Served, failing: str) -> None:
    # The overview: two completed, one faulted, the error among the top errors.
    page.goto(served.base + "/")
    expect(page.locator(".figure.ok")).to_have_text("2")
    expect(page.locator(".figure.bad")).to_have_text("1")
    expect(page.locator("text=Service Unavailable")).to_be_visible()
    shot(page, "01-overview")

    # The list, filtered to one workflow, then its faulted instances.
    page.click("nav.sections >> text=Instances")
    expect(page.locator("tr[data-id]")).to_have_count(3)
    page.select_option("select[name=workflow]", "shop/order")
    page.click("button:has-text('Filter')")
    expect(page.locator("tr[data-id]")).to_have_count(1)
    page.click("a.tab.dlq")
    expect(page).to_have_url(f"{served.base}/instances?workflow=shop%2Forder&status=faulted")
    row = page.locator(f"tr[data-id='{failing}']")
    expect(row.locator(".badge")).to_have_text("faulted")
    shot(page, "02-faulted-list")

    # The faulted instance: the error, the task that faulted on the graph, the input as text.
    row.locator(f"a[href='/instances/{failing}']").click()
    expect(page.locator(".summary-panel .badge")).to_have_text("faulted")
    expect(page.locator("#error")).to_contain_text("Service Unavailable")
    expect(page.locator("#error")).to_contain_text("503")
    reserve = page.locator("svg.graph g[data-ref='/do/3/reserve']")
    expect(reserve).to_have_class("node k-call s-faulted selectable")
    expect(page.locator("svg.graph g[data-ref='/do/2/review']")).to_have_class(
        "node k-wait s-completed selectable")
    expect(page.locator("svg.graph g[data-ref='/do/4/ship']")).to_have_class(
        "cluster k-for s-not-reached selectable")
    expect(page.locator("#input pre")).to_contain_text(SCRIPT)
    expect(page.locator("svg.timeline .row[data-position='/do/3/reserve'] .b-faulted")) \
        .to_have_count(1)
    page.click("#error a.task-link")  # the error's task, shown on the graph
    shot(page, "03-faulted-instance")

    # The warehouse is back: retry, and the page follows the run to its end by itself.
    served.warehouse.online = True
    page.click("#action-retry")
    expect(page.locator(".flash")).to_contain_text("Retry requested")
    expect(page.locator(".summary-panel .badge")).to_have_text("completed")
    expect(reserve).to_have_class("node k-call s-completed selectable")
    expect(page.locator("svg.graph g[data-ref='/do/5/notify']")).to_have_class(
        "cluster k-fork s-completed selectable")
    expect(page.locator("#journal")).to_contain_text("instance.retried")
    expect(page.locator("#journal")).to_contain_text("by dashboard:open")
    expect(page.locator("#output pre")).to_contain_text('"sms": "sent"')
    expect(page.locator("svg.timeline .mark text")).to_have_text("retried")
    shot(page, "04-retried-completed")
    assert served.instance(failing)["status"] == "completed"

    # Re-run from a task picked on the graph: a new instance replays up to it.
    hits = served.warehouse.hits
    page.locator("svg.graph g[data-ref='/do/4/ship']").click(position={"x": 24, "y": 10})
    expect(page.locator("#rerun-from")).to_have_value("/do/4/ship")
    expect(page.locator("svg.graph g[data-ref='/do/4/ship']")).to_have_class(
        "cluster k-for s-completed selectable selected")
    page.click("#rerun")
    expect(page.locator(".flash")).to_contain_text(f"Re-run of {failing} from /do/4/ship")
    assert page.url.rsplit("/", 1)[-1] != failing
    expect(page.locator(".summary-panel .badge")).to_have_text("completed")
    expect(page.locator(".facts a[href='/instances/" + failing + "']")).to_be_visible()
    expect(page.locator("svg.graph g[data-ref='/do/4/ship/do/0/pack']")).to_have_class(
        "node k-set s-completed selectable")
    shot(page, "05-rerun-completed")
    assert served.warehouse.hits == hits  # the reserve call was replayed, not made again

    # Its definition: the versions, the graph, the source highlighted.
    page.click(".status-line a[href^='/definitions/']")
    expect(page.locator("#source .source .nt").first).to_have_text("document")
    expect(page.locator("svg.graph g[data-ref='/do/3/reserve']")).to_be_visible()
    shot(page, "06-definition")
