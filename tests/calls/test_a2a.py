"""`call: a2a` against a real local agent (tests/support/a2a_server.py)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from podium import Runtime, WorkflowError
from tests.support.a2a_server import A2AServer

ERRORS = "https://serverlessworkflow.io/spec/1.0.0/errors/"


@pytest.fixture(scope="module")
def module_agent() -> Iterator[A2AServer]:
    with A2AServer() as server:
        yield server


@pytest.fixture
def agent(module_agent: A2AServer) -> A2AServer:
    module_agent.requests.clear()
    return module_agent


def document(*tasks: dict[str, Any], use: dict[str, Any] | None = None) -> str:
    doc: dict[str, Any] = {
        "document": {"dsl": "1.0.3", "namespace": "test", "name": "a2a", "version": "1.0.0"},
        "do": [{f"step{i}": task} for i, task in enumerate(tasks)],
    }
    if use:
        doc["use"] = use
    return json.dumps(doc)  # JSON is YAML: no quoting surprises in expressions


def a2a(method: str, parameters: Any = None, **where: Any) -> dict[str, Any]:
    arguments: dict[str, Any] = {"method": method, **where}
    if parameters is not None:
        arguments["parameters"] = parameters
    return {"call": "a2a", "with": arguments}


def text_message(text: str) -> dict[str, Any]:
    return {"message": {"parts": [{"kind": "text", "text": text}]}}


async def run(doc: str, data: Any = None, **options: Any) -> Any:
    async with Runtime(**options) as runtime:
        return await runtime.run(doc, data)


async def test_message_send_through_the_agent_card(agent: A2AServer) -> None:
    card = {"endpoint": f"{agent.url}/.well-known/agent-card.json"}
    doc = document(a2a("message/send", text_message("${ .question }"), agentCard=card))
    out = await run(doc, {"question": "Generate the Q1 sales report."})

    assert out["kind"] == "task"
    assert out["status"] == {"state": "completed"}
    assert out["artifacts"][0]["parts"] == [
        {"kind": "text", "text": "GENERATE THE Q1 SALES REPORT."}
    ]
    (_, request), = agent.requests
    assert request["jsonrpc"] == "2.0" and request["method"] == "message/send"
    message = request["params"]["message"]
    # dsl-reference "A2A Call": messageId defaults to a uuid, role to user.
    assert message["role"] == "user"
    assert uuid.UUID(message["messageId"])
    assert message["parts"] == [{"kind": "text", "text": "Generate the Q1 sales report."}]


async def test_given_message_fields_win_over_the_defaults(agent: A2AServer) -> None:
    parameters = {"message": {"messageId": "m-1", "role": "agent", "contextId": "c-9",
                              "parts": [{"kind": "text", "text": "hi"}]}}
    out = await run(document(a2a("message/send", parameters, server=f"{agent.url}/a2a")))
    assert out["contextId"] == "c-9"
    message = agent.requests[0][1]["params"]["message"]
    assert (message["messageId"], message["role"]) == ("m-1", "agent")


async def test_default_message_ids_differ_between_calls(agent: A2AServer) -> None:
    send = a2a("message/send", text_message("x"), server=f"{agent.url}/a2a")
    await run(document(send, send))
    ids = [request["params"]["message"]["messageId"] for _, request in agent.requests]
    assert len(set(ids)) == 2


async def test_older_agent_json_card_location(agent: A2AServer) -> None:
    card = {"endpoint": {"uri": f"{agent.url}/.well-known/agent.json"}}
    out = await run(document(a2a("message/send", text_message("old"), agentCard=card)))
    assert out["artifacts"][0]["parts"][0]["text"] == "OLD"


async def test_tasks_get_with_the_id_of_a_previous_call(agent: A2AServer) -> None:
    server = f"{agent.url}/a2a"
    doc = document(
        a2a("message/send", text_message("remember me"), server=server),
        a2a("tasks/get", {"id": "${ .id }"}, server=server),
    )
    out = await run(doc)
    assert out["kind"] == "task"
    assert out["artifacts"][0]["parts"][0]["text"] == "REMEMBER ME"
    assert agent.requests[1][1]["params"] == {"id": out["id"]}


async def test_server_endpoint_authentication(agent: A2AServer) -> None:
    server = {"uri": f"{agent.url}/a2a", "authentication": {"use": "agentToken"}}
    use = {"authentications": {"agentToken": {"bearer": {"token": "t0k3n"}}}}
    await run(document(a2a("message/send", text_message("x"), server=server), use=use))
    headers, _ = agent.requests[0]
    assert headers["authorization"] == "Bearer t0k3n"


async def test_message_stream_collects_every_event(agent: A2AServer) -> None:
    out = await run(document(a2a("message/stream", text_message("streamed"),
                                 server=f"{agent.url}/a2a")))
    assert [event["kind"] for event in out] == [
        "task", "status-update", "artifact-update", "status-update"
    ]
    assert out[-1]["final"] is True
    assert out[2]["artifact"]["parts"][0]["text"] == "STREAMED"


async def test_error_reply_is_a_runtime_error_with_the_json_rpc_details(
    agent: A2AServer,
) -> None:
    doc = document(a2a("message/send", text_message("fail"), server=f"{agent.url}/a2a"))
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    error = caught.value
    assert error.type == ERRORS + "runtime"
    assert error.status == 400  # -32602 invalid params
    assert "Invalid params" in str(error.detail) and "-32602" in str(error.detail)
    assert "cannot echo 'fail'" in str(error.detail)
    assert error.instance == "/do/0/step0"


@pytest.mark.parametrize(
    ("method", "parameters", "status"),
    [
        ("tasks/get", {"id": "no-such-task"}, 404),  # A2A -32001 task not found
        ("tasks/cancel", {"id": "task-1"}, 404),  # -32601 method not found
    ],
    ids=["task-not-found", "method-not-found"],
)
async def test_error_codes_map_to_statuses(
    agent: A2AServer, method: str, parameters: dict[str, Any], status: int
) -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(document(a2a(method, parameters, server=f"{agent.url}/a2a")))
    assert caught.value.type == ERRORS + "runtime"
    assert caught.value.status == status


async def test_a_caught_error_lets_the_workflow_continue(agent: A2AServer) -> None:
    guarded = {
        "try": [{"ask": a2a("message/send", text_message("fail"), server=f"{agent.url}/a2a")}],
        "catch": {"errors": {"with": {"type": ERRORS + "runtime", "status": 400}},
                  "do": [{"fallback": {"set": {"answer": "none"}}}]},
    }
    assert await run(document(guarded)) == {"answer": "none"}


async def test_http_failure_is_a_communication_error(agent: A2AServer) -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(document(a2a("message/send", text_message("x"), server=f"{agent.url}/broken")))
    assert caught.value.type == ERRORS + "communication"
    assert caught.value.status == 503
    assert "agent is down" in str(caught.value.detail)


async def test_unreachable_agent_is_a_communication_error(unused_tcp_port: int) -> None:
    doc = document(a2a("message/send", text_message("x"),
                       server=f"http://127.0.0.1:{unused_tcp_port}/a2a"))
    with pytest.raises(WorkflowError) as caught:
        await run(doc)
    assert caught.value.type == ERRORS + "communication"
    assert caught.value.status == 503


async def test_card_without_json_rpc_is_a_configuration_error(agent: A2AServer) -> None:
    card = {"endpoint": f"{agent.url}/.well-known/grpc-only.json"}
    with pytest.raises(WorkflowError) as caught:
        await run(document(a2a("message/send", text_message("x"), agentCard=card)))
    assert caught.value.type == ERRORS + "configuration"
    assert "JSON-RPC" in str(caught.value.detail) and "GRPC" in str(caught.value.detail)


async def test_message_methods_need_a_message(agent: A2AServer) -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(document(a2a("message/send", {"metadata": {"a": 1}},
                               server=f"{agent.url}/a2a")))
    assert caught.value.type == ERRORS + "validation"
    assert not agent.requests


async def test_an_agent_card_or_a_server_is_required() -> None:
    with pytest.raises(WorkflowError) as caught:
        await run(document(a2a("tasks/get", {"id": "1"})))
    assert caught.value.type == ERRORS + "configuration"
    assert "agentCard" in str(caught.value.detail)
