"""An operator's retry of a faulted instance (the same instance goes again from
the task that faulted) and re-run from a task (a new instance replays the
original's journal up to that task), with a worker running the instances.

What completed before must not run again: the counting service sees every call
once, but for the one that failed."""

from __future__ import annotations

import pytest

from podium import load, recovery
from podium.store import InstanceRecord, Store
from tests.durability.helpers import call_key, ended, entries, runtime_on, working
from tests.support.counting_server import CountingServer


def _doc(name: str, body: str, server: CountingServer) -> str:
    return (f"document: {{dsl: '1.0.3', namespace: recovery, name: {name}, version: '1.0.0'}}\n"
            + body.replace("BASE", server.url))


def _call(name: str, path: str) -> str:
    return (f"  - {name}:\n      call: http\n"
            f"      with: {{method: get, endpoint: 'BASE/{path}'}}\n")


# Item b's call fails once.
ITEM_URL = ("""'${ "BASE/" + (if $item == "b" then "flaky" else "ok" end)"""
            """ + "/item-" + $item }'""")

THREE_CALLS = "do:\n" + _call("first", "ok/first") + _call("second", "flaky/second?fail=1") \
    + _call("third", "ok/third")


async def _faulted(store: Store, runtime_url: str, document: str,
                   data: object = None) -> InstanceRecord:
    async with runtime_on(runtime_url, "worker-a") as runtime:
        record, _ = await runtime.create_instance(load(document), data or {})
        async with working(runtime):
            done = await ended(store, record.id)
    assert done.status == "faulted", done
    return done


async def _run_to_end(store_url: str, store: Store, instance_id: str) -> InstanceRecord:
    async with runtime_on(store_url, "worker-b") as runtime, working(runtime):
        return await ended(store, instance_id)


async def test_retry_runs_again_only_the_task_that_faulted(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    faulted = await _faulted(store, store_url, _doc("three", THREE_CALLS, counting))
    assert faulted.error is not None and faulted.error["instance"] == "/do/1/second"

    retried = await recovery.retry(store, faulted.id, "ops@test")
    assert (retried.status, retried.error, retried.ended_at) == ("pending", None, None)
    done = await _run_to_end(store_url, store, faulted.id)

    assert done.status == "completed", done.error
    assert done.output == {"name": "third", "key": call_key(faulted.id, "/do/2/third")}
    # first ran once (replayed on retry), second twice (503, then 200), third once.
    assert [len(counting.named(n)) for n in ("first", "second", "third")] == [1, 2, 1]
    journal = await store.read_journal(faulted.id)
    (line,) = [e for e in journal if e.kind == "instance.retried"]
    assert line.data == {"by": "ops@test", "status": "faulted", "after": "fault"}
    # The history keeps the fault, and shows the attempt that followed it.
    assert [e.kind for e in entries(journal, "task.faulted", "/do/1/second")] == ["task.faulted"]
    assert len(entries(journal, "task.completed", "/do/1/second")) == 1
    assert len(entries(journal, "task.completed", "/do/0/first")) == 1


async def test_retry_after_a_failed_compensation_does_not_repeat_the_caught_task(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    body = """do:
  - book:
      try:
        - reserve:
            call: http
            with: {method: get, endpoint: 'BASE/flaky/reserve?fail=100'}
      catch:
        do:
          - release:
              call: http
              with: {method: get, endpoint: 'BASE/flaky/release?fail=1'}
  - confirm:
      set: {confirmed: true}
"""
    faulted = await _faulted(store, store_url, _doc("compensate", body, counting))
    assert faulted.error is not None
    assert faulted.error["instance"] == "/do/0/book/catch/do/0/release"

    await recovery.retry(store, faulted.id, "ops@test")
    done = await _run_to_end(store_url, store, faulted.id)

    assert done.status == "completed", done.error
    assert done.output == {"confirmed": True}
    # The fault the try caught is replayed; only the compensation runs again.
    assert [len(counting.named(n)) for n in ("reserve", "release")] == [1, 2]


async def test_retry_reruns_the_failed_branch_and_iteration_only(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    body = """do:
  - each:
      for: {each: item, in: '${ ["a", "b", "c"] }'}
      do:
        - fetch:
            call: http
            with:
              method: get
              endpoint: ITEM_URL
  - both:
      fork:
        branches:
          - left:
              call: http
              with: {method: get, endpoint: 'BASE/ok/left'}
          - right:
              call: http
              with: {method: get, endpoint: 'BASE/flaky/right?fail=1'}
"""
    document = _doc("branches", body.replace("ITEM_URL", ITEM_URL), counting)
    faulted = await _faulted(store, store_url, document)
    assert faulted.error is not None and faulted.error["instance"].endswith("/fetch")
    await recovery.retry(store, faulted.id, "ops@test")
    again = await _run_to_end(store_url, store, faulted.id)
    # The iteration went through; the fork's right branch fails now.
    assert again.status == "faulted" and again.error is not None
    assert again.error["instance"] == "/do/1/both/fork/branches/1/right", again.error

    await recovery.retry(store, faulted.id, "ops@test")
    done = await _run_to_end(store_url, store, faulted.id)
    assert done.status == "completed", done.error
    calls = {n: len(counting.named(n)) for n in ("item-a", "item-b", "item-c", "left", "right")}
    assert calls == {"item-a": 1, "item-b": 2, "item-c": 1, "left": 1, "right": 2}


async def test_retry_retries_the_faulted_subflow_first(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    child = _doc("child", "do:\n" + _call("charge", "flaky/charge?fail=1"), counting)
    parent = _doc("parent", """do:
  - prepare:
      call: http
      with: {method: get, endpoint: 'BASE/ok/prepare'}
  - pay:
      run:
        workflow: {namespace: recovery, name: child, version: '1.0.0'}
""", counting)
    async with runtime_on(store_url, "worker-a") as runtime:
        await runtime.deploy(load(child))
        record, _ = await runtime.create_instance(load(parent), {})
        async with working(runtime):
            faulted = await ended(store, record.id)
    assert faulted.status == "faulted"
    (subflow,) = [r for r in await store.list_instances() if r.parent_id == record.id]
    assert subflow.status == "faulted"

    await recovery.retry(store, record.id, "ops@test")
    done = await _run_to_end(store_url, store, record.id)

    assert done.status == "completed", done.error
    child_now = await store.get_instance(subflow.id)
    assert child_now is not None and child_now.status == "completed"
    assert [len(counting.named(n)) for n in ("prepare", "charge")] == [1, 2]
    child_journal = await store.read_journal(subflow.id)
    (line,) = [e for e in child_journal if e.kind == "instance.retried"]
    assert line.data["by"] == f"retry of {record.id}"


async def test_retry_refuses_what_did_not_fault(store_url: str, store: Store,
                                                counting: CountingServer) -> None:
    document = _doc("fine", "do:\n" + _call("only", "ok/only"), counting)
    async with runtime_on(store_url, "worker-a") as runtime:
        record, _ = await runtime.create_instance(load(document), {})
        async with working(runtime):
            await ended(store, record.id)
    with pytest.raises(recovery.Refused, match="is completed, not faulted"):
        await recovery.retry(store, record.id, "ops@test")
    with pytest.raises(LookupError):
        await recovery.retry(store, "missing", "ops@test")


async def test_rerun_from_a_task_replays_the_prefix_and_executes_the_rest(
    store_url: str, store: Store, counting: CountingServer
) -> None:
    body = "do:\n" + _call("first", "ok/first") + _call("second", "ok/second") \
        + "      output: {as: '${ {second: .key} }'}\n" \
        + "  - third:\n      set: {third: '${ $input.second }'}\n"
    document = _doc("rerun", body, counting)
    async with runtime_on(store_url, "worker-a") as runtime:
        record, _ = await runtime.create_instance(load(document), {"order": 7})
        async with working(runtime):
            original = await ended(store, record.id)
    assert original.status == "completed", original.error

    copy, created = await recovery.rerun(store, record.id, "/do/1/second", "ops@test")
    assert created and copy.id != record.id and copy.input == {"order": 7}
    prefix = await store.read_journal(copy.id)
    assert prefix[-1].kind == "instance.rerun"
    assert prefix[-1].data == {"by": "ops@test", "from": record.id, "at": "/do/1/second"}
    assert {e.position for e in prefix[:-1]} == {"/do/0/first"}
    done = await _run_to_end(store_url, store, copy.id)

    assert done.status == "completed", done.error
    assert done.output == {"third": call_key(copy.id, "/do/1/second")}
    # first was replayed from the original's journal: called once in all.
    assert [len(counting.named(n)) for n in ("first", "second")] == [1, 2]
    unchanged = await store.get_instance(record.id)
    assert unchanged is not None and unchanged.output == original.output


async def test_rerun_from_an_iteration(store_url: str, store: Store,
                                       counting: CountingServer) -> None:
    body = """do:
  - each:
      for: {each: item, in: '${ ["a", "b", "c"] }'}
      do:
        - fetch:
            call: http
            with: {method: get, endpoint: '${ "BASE/ok/item-" + $item }'}
"""
    document = _doc("iterations", body, counting)
    async with runtime_on(store_url, "worker-a") as runtime:
        record, _ = await runtime.create_instance(load(document), {})
        async with working(runtime):
            assert (await ended(store, record.id)).status == "completed"

    # A position names one iteration; its task reference would name the first.
    copy, _ = await recovery.rerun(store, record.id, "/do/0/each[1]/do/0/fetch", "ops@test")
    done = await _run_to_end(store_url, store, copy.id)

    assert done.status == "completed", done.error
    calls = {n: len(counting.named(n)) for n in ("item-a", "item-b", "item-c")}
    assert calls == {"item-a": 1, "item-b": 2, "item-c": 2}


async def test_rerun_refuses_a_task_that_never_ran(store_url: str, store: Store,
                                                   counting: CountingServer) -> None:
    faulted = await _faulted(store, store_url, _doc("never", THREE_CALLS, counting))
    with pytest.raises(recovery.Refused, match="/do/2/third never ran"):
        await recovery.rerun(store, faulted.id, "/do/2/third", "ops@test")
    # By key: asking twice starts one instance.
    first, created = await recovery.rerun(store, faulted.id, "/do/1/second", "ops", key="k1")
    again, created_again = await recovery.rerun(store, faulted.id, "/do/1/second", "ops",
                                                key="k1")
    assert (created, created_again, again.id) == (True, False, first.id)


def test_reference_of_a_position() -> None:
    assert recovery.reference_of("/do/0/loop[2]/do/0/step@1/try/0/x~1") \
        == "/do/0/loop/do/0/step/try/0/x"
    assert recovery.reference_of("/do/1/wait#timeout") == "/do/1/wait"
