"""The dashboard's pages and forms over both stores: what they show, that
workflow data is escaped, the security headers, CSRF, and roles."""

from __future__ import annotations

import re
from urllib.parse import unquote

from podium.server.sessions import COOKIE
from tests.server.dashboard.conftest import OPERATOR, SHOP, VIEWER, Dashboard, csrf_of

SCRIPT = "<script>alert(1)</script>"


async def test_the_overview_counts_outcomes_and_errors(dashboard: Dashboard) -> None:
    await dashboard.run({"id": "a", "amount": 5})
    await dashboard.run({"id": "b", "amount": 7})
    await dashboard.run({"id": "c", "amount": -1})
    page = await dashboard.client.get("/")
    assert page.status_code == 200
    text = page.text
    assert re.search(r'class="figure ok">2<', text)
    assert re.search(r'class="figure bad">1<', text)
    assert "66.7 %" in text  # success rate
    assert "shop/<b>order</b>" in text
    assert "Amount refused" in text and "https://example.com/errors/amount" in text
    week = await dashboard.client.get("/?window=7d")
    assert 'class="active">last 7d' in week.text


async def test_the_list_filters_by_status_workflow_and_text(dashboard: Dashboard) -> None:
    done = await dashboard.run({"id": "a", "amount": 5})
    failed = await dashboard.run({"id": "b", "amount": -5})
    other = await dashboard.run({}, SHOP.replace("name: order", "name: quote")
                                .replace("${ .id }", "q").replace("${ .amount }", "1"))
    listed = (await dashboard.client.get("/instances")).text
    assert {done.id, failed.id, other.id} <= set(re.findall(r'data-id="([^"]+)"', listed))

    faulted = (await dashboard.client.get("/instances?status=faulted")).text
    assert re.findall(r'data-id="([^"]+)"', faulted) == [failed.id]
    assert 'value="retry"' in faulted  # the dead-letter tab retries in bulk
    assert "Amount refused" in faulted

    by_workflow = (await dashboard.client.get("/instances?workflow=shop%2Fquote")).text
    assert re.findall(r'data-id="([^"]+)"', by_workflow) == [other.id]
    by_text = (await dashboard.client.get(f"/instances?q={done.id[-6:].upper()}")).text
    assert re.findall(r'data-id="([^"]+)"', by_text) == [done.id]

    rows = await dashboard.client.get("/instances/rows?status=completed")
    assert rows.status_code == 200 and "<html" not in rows.text
    assert set(re.findall(r'data-id="([^"]+)"', rows.text)) == {done.id, other.id}


async def test_workflow_data_is_escaped_everywhere(dashboard: Dashboard) -> None:
    record = await dashboard.run({"id": SCRIPT, "amount": -1, SCRIPT: "x"})
    for path in (f"/instances/{record.id}", f"/instances/{record.id}/live", "/instances"):
        page = await dashboard.client.get(path)
        assert page.status_code == 200
        assert SCRIPT not in page.text
        assert "<script>alert" not in page.text
    page = (await dashboard.client.get(f"/instances/{record.id}")).text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page  # shown, as text
    # the only scripts are the dashboard's own file; no inline event handlers
    assert re.findall(r"<script[^>]*>", page) == [
        '<script src="/static/dashboard.js" defer></script>'[:-9]]
    assert not re.search(r"\son[a-z]+\s*=", page)


async def test_a_definition_source_is_escaped_when_highlighted(dashboard: Dashboard) -> None:
    text = SHOP.replace("order: ${ .id }", f"order: '{SCRIPT}'")
    await dashboard.runtime.deploy(text.replace("1.0.0", "1.1.0"))
    page = await dashboard.client.get("/definitions/shop/order")
    assert page.status_code == 200
    assert SCRIPT not in page.text and "&lt;script&gt;" in page.text
    assert 'class="source"' in page.text  # highlighted, as YAML
    assert '<span class="nt">namespace</span>' in page.text
    assert "1.1.0" in page.text
    listing = await dashboard.client.get("/definitions")
    assert "shop/<b>order</b>" in listing.text
    missing = await dashboard.client.get("/definitions/shop/nope")
    assert missing.status_code == 404 and "There is no definition shop/nope" in missing.text


async def test_definitions_show_their_schedule_and_next_fire(dashboard: Dashboard) -> None:
    hourly = SHOP.replace("do:\n", "schedule:\n  cron: '0 * * * *'\ndo:\n", 1)
    await dashboard.runtime.deploy(hourly)
    listing = (await dashboard.client.get("/definitions")).text
    assert '<span class="pill">cron</span> <span class="mono small">0 * * * *</span>' in listing
    assert re.search(r'<span title="\d{4}-\d\d-\d\d \d\d:00:00 UTC">in ', listing)
    page = (await dashboard.client.get("/definitions/shop/order/1.0.0")).text
    assert "next fire" in page and "never" in page  # not fired yet
    assert 'data-ref="/do/1/route"' in page  # its graph


async def test_the_instance_view(dashboard: Dashboard) -> None:
    record = await dashboard.run({"id": "a", "amount": -3})
    page = (await dashboard.client.get(f"/instances/{record.id}")).text
    assert re.search(r'class="badge st-faulted">faulted', page)
    assert "the amount -3 is negative" in page  # the problem details
    # the graph colors each task by its outcome, and names it by its reference
    assert re.search(r'class="node k-raise s-faulted selectable" data-ref="/do/3/refuse"', page)
    assert re.search(r'class="node k-set s-skipped selectable" data-ref="/do/2/accept"', page)
    assert re.search(r'class="node k-switch s-completed selectable" data-ref="/do/1/route"',
                     page)
    assert 'data-position="/do/3/refuse"' in page  # the timeline's row
    assert "task.faulted" in page  # the journal
    assert 'action="/instances/' + record.id + '/retry"' in page
    assert 'action="/instances/' + record.id + '/cancel"' not in page  # it has ended
    missing = await dashboard.client.get("/instances/nope")
    assert missing.status_code == 404 and "There is no instance" in missing.text


async def test_pages_carry_security_headers(dashboard: Dashboard) -> None:
    for path in ("/", "/instances", "/definitions", "/static/dashboard.css"):
        response = await dashboard.client.get(path)
        assert response.status_code == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["x-content-type-options"] == "nosniff"
    script = await dashboard.client.get("/static/dashboard.js")
    assert "javascript" in script.headers["content-type"]
    # the API keeps its own (its documentation page loads its scripts)
    assert "content-security-policy" not in (await dashboard.client.get(
        "/api/v1/health")).headers


async def test_a_form_without_its_csrf_token_is_refused(dashboard: Dashboard) -> None:
    record = await dashboard.run({"id": "a", "amount": -1})
    action = f"/instances/{record.id}/retry"
    assert (await dashboard.client.post(action)).status_code == 403
    assert (await dashboard.client.post(action, data={"csrf": "forged"})).status_code == 403
    token = await dashboard.csrf()
    # nor does the token of another session
    mine = dashboard.client.cookies[COOKIE]
    dashboard.client.cookies.clear()
    await dashboard.client.get("/")
    assert dashboard.client.cookies[COOKIE] != mine
    assert (await dashboard.client.post(action, data={"csrf": token})).status_code == 403
    dashboard.client.cookies.set(COOKIE, mine)
    from_elsewhere = await dashboard.client.post(action, data={"csrf": token},
                                                 headers={"Origin": "https://evil.example"})
    assert from_elsewhere.status_code == 403
    assert (await dashboard.store.get_instance(record.id)).status == "faulted"  # type: ignore[union-attr]

    done = await dashboard.client.post(action, data={"csrf": token})
    assert done.status_code == 303 and done.headers["location"] == f"/instances/{record.id}"
    assert (await dashboard.store.get_instance(record.id)).status == "pending"  # type: ignore[union-attr]
    history = await dashboard.store.read_journal(record.id)
    assert history[-1].kind == "instance.retried"
    assert history[-1].data["by"] == "dashboard:open"
    shown = await dashboard.client.get(done.headers["location"])
    assert "Retry requested" in shown.text  # the message, once
    again = await dashboard.client.get(done.headers["location"])
    assert "Retry requested" not in again.text


async def test_bulk_actions_report_what_they_did(dashboard: Dashboard) -> None:
    failed = [await dashboard.run({"id": str(n), "amount": -n}) for n in (1, 2)]
    done = await dashboard.run({"id": "ok", "amount": 1})
    token = await dashboard.csrf()
    response = await dashboard.client.post("/instances", data={
        "csrf": token, "action": "retry", "back": "/instances?status=faulted",
        "id": [failed[0].id, failed[1].id, done.id]})
    assert response.status_code == 303
    assert response.headers["location"] == "/instances?status=faulted"
    page = await dashboard.client.get(response.headers["location"])
    assert "Retry: 2 of 3 instance(s); refused:" in page.text
    for record in failed:
        assert (await dashboard.store.get_instance(record.id)).status == "pending"  # type: ignore[union-attr]
    elsewhere = await dashboard.client.post("/instances", data={
        "csrf": token, "action": "cancel", "back": "https://evil.example/", "id": done.id})
    assert elsewhere.headers["location"] == "/instances"  # never another site


async def test_retry_every_faulted_instance_a_filter_selects(dashboard: Dashboard) -> None:
    failed = [await dashboard.run({"id": str(n), "amount": -n}) for n in (1, 2, 3)]
    other = await dashboard.run({}, SHOP.replace("name: order", "name: quote")
                                .replace("${ .amount }", "-1"))
    listed = (await dashboard.client.get("/instances?status=faulted&workflow=shop%2Forder"))
    assert 'id="bulk-retry-all"' in listed.text
    assert ('data-stream="/api/v1/instances/stream?status=faulted&amp;workflow=shop%2Forder"'
            in listed.text)  # the rows follow the API's live stream of the same filter
    response = await dashboard.client.post("/instances", data={
        "csrf": csrf_of(listed.text), "all": "retry", "status": "faulted",
        "workflow": "shop/order", "back": "/instances?status=faulted"})
    assert response.status_code == 303
    page = await dashboard.client.get(response.headers["location"])
    assert "Retry: 3 of 3 instance(s)" in page.text
    for record in failed:
        assert (await dashboard.store.get_instance(record.id)).status == "pending"  # type: ignore[union-attr]
    assert (await dashboard.store.get_instance(other.id)).status == "faulted"  # type: ignore[union-attr]


async def test_rerun_from_a_task_starts_a_new_instance(dashboard: Dashboard) -> None:
    record = await dashboard.run({"id": "a", "amount": -1})
    token = await dashboard.csrf(f"/instances/{record.id}")
    response = await dashboard.client.post(f"/instances/{record.id}/rerun",
                                            data={"csrf": token, "from": "/do/1/route"})
    assert response.status_code == 303
    new_id = response.headers["location"].rsplit("/", 1)[-1]
    assert new_id != record.id
    rerun = await dashboard.store.get_instance(new_id)
    assert rerun is not None and rerun.status == "pending"
    marker = (await dashboard.store.read_journal(new_id))[-1]
    assert marker.kind == "instance.rerun"
    assert marker.data == {"by": "dashboard:open", "from": record.id, "at": "/do/1/route"}
    page = (await dashboard.client.get(response.headers["location"])).text
    assert f"Re-run of {record.id} from /do/1/route" in page
    never = await dashboard.client.post(f"/instances/{record.id}/rerun",
                                        data={"csrf": token, "from": "/do/2/accept"})
    assert "never ran" in (await dashboard.client.get(never.headers["location"])).text


async def test_with_tokens_a_viewer_signs_in_and_only_looks(guarded: Dashboard) -> None:
    client = guarded.client
    record = await guarded.run({"id": "a", "amount": -1})
    login = await client.get("/login")
    assert "Sign out" not in login.text  # nobody is signed in yet
    first = await client.get(f"/instances/{record.id}")
    assert first.status_code == 303
    assert unquote(first.headers["location"]) == f"/login?next=/instances/{record.id}"
    wrong = await guarded.sign_in("not-a-token")
    assert wrong.headers["location"].startswith("/login")
    assert (await client.get("/")).status_code == 303

    signed = await guarded.sign_in(VIEWER)
    assert signed.status_code == 303 and signed.headers["location"] == "/"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie and "samesite=strict" in cookie
    assert VIEWER not in signed.headers["set-cookie"]  # the token itself is never stored
    page = await client.get(f"/instances/{record.id}")
    assert page.status_code == 200 and ">viewer<" in page.text
    assert "/retry" not in page.text and "rerun" not in page.text  # no action forms
    assert 'name="action"' not in (await client.get("/instances?status=faulted")).text
    refused = await client.post(f"/instances/{record.id}/retry",
                                data={"csrf": csrf_of(page.text)})
    assert refused.status_code == 403 and "viewer" in refused.text

    # the API's reads accept the session (the pages' live streams); its writes do not
    assert (await client.get("/api/v1/instances")).status_code == 200
    stream = await client.get(f"/api/v1/instances/{record.id}/stream")
    assert stream.status_code == 200 and "event: end" in stream.text
    assert (await client.post(f"/api/v1/instances/{record.id}/retry")).status_code == 401

    out = await client.post("/logout", data={"csrf": csrf_of(page.text)})
    assert out.status_code == 303
    client.cookies.clear()
    assert (await client.get("/")).status_code == 303


async def test_an_operator_acts_under_its_own_name(guarded: Dashboard) -> None:
    record = await guarded.run({"id": "a", "amount": -1})
    await guarded.sign_in(OPERATOR)
    page = await guarded.client.get(f"/instances/{record.id}")
    assert ">operator<" in page.text and f"/instances/{record.id}/retry" in page.text
    done = await guarded.client.post(f"/instances/{record.id}/retry",
                                     data={"csrf": csrf_of(page.text)})
    assert done.status_code == 303
    line = (await guarded.store.read_journal(record.id))[-1]
    assert re.fullmatch(r"dashboard:operator:[0-9a-f]{6}", line.data["by"])


async def test_the_api_serves_a_definition_graph(dashboard: Dashboard) -> None:
    await dashboard.runtime.deploy(SHOP)
    response = await dashboard.client.get("/api/v1/definitions/shop/order/1.0.0/graph")
    assert response.status_code == 200
    graph = response.json()
    assert [n["id"] for n in graph["nodes"]] == [
        "start", "/do/0/validate", "/do/1/route", "/do/2/accept", "/do/3/refuse", "end"]
    assert {"source": "/do/1/route", "target": "/do/3/refuse", "kind": "case",
            "label": "refused: .amount < 0"} in graph["edges"]
    missing = await dashboard.client.get("/api/v1/definitions/shop/order/9.9.9/graph")
    assert missing.status_code == 404
    assert missing.headers["content-type"].startswith("application/problem+json")
