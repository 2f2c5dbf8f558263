"""A small A2A agent (JSON-RPC binding of A2A 0.3) for the ``call: a2a`` tests.

Starlette served by uvicorn in a thread on 127.0.0.1 (ephemeral port):

- ``GET /.well-known/agent-card.json`` (and the older ``agent.json``): the card,
  whose ``url`` is the JSON-RPC endpoint ``/a2a``;
- ``GET /.well-known/grpc-only.json``: a card without a JSON-RPC interface;
- ``POST /a2a``: ``message/send`` (a completed task whose artifact echoes the
  text, upper-cased), ``tasks/get``, ``message/stream`` (server-sent events:
  the task, a status update, the artifact, the final status update); a message
  whose text is ``fail`` gets an invalid-params error, other methods get
  method-not-found, and an unknown task id gets A2A's task-not-found;
- ``POST /broken``: answers 503.

    with A2AServer() as agent:
        agent.url           # http://127.0.0.1:PORT
        agent.requests      # [(headers, JSON-RPC request), ...]
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from tests.support.threaded_server import ThreadedServer


class A2AServer(ThreadedServer):
    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.tasks: dict[str, dict[str, Any]] = {}
        app = Starlette(routes=[
            Route("/.well-known/agent-card.json", self._card),
            Route("/.well-known/agent.json", self._card),
            Route("/.well-known/grpc-only.json", self._grpc_card),
            Route("/a2a", self._rpc, methods=["POST"]),
            Route("/broken", self._broken, methods=["POST"]),
        ])
        super().__init__(app)
        self.url = f"http://127.0.0.1:{self.port}"

    def card(self) -> dict[str, Any]:
        return {
            "protocolVersion": "0.3.0",
            "name": "Echo agent",
            "description": "Echoes messages, upper-cased.",
            "url": f"{self.url}/a2a",
            "preferredTransport": "JSONRPC",
            "version": "1.0.0",
            "capabilities": {"streaming": True},
            "defaultInputModes": ["text/plain"],
            "defaultOutputModes": ["text/plain"],
            "skills": [{"id": "echo", "name": "Echo", "description": "Echo", "tags": []}],
        }

    async def _card(self, request: Request) -> Response:
        return JSONResponse(self.card())

    async def _grpc_card(self, request: Request) -> Response:
        card = self.card()
        card["preferredTransport"] = "GRPC"
        card["additionalInterfaces"] = [{"url": "127.0.0.1:1", "transport": "GRPC"}]
        return JSONResponse(card)

    async def _broken(self, request: Request) -> Response:
        return Response("agent is down", status_code=503)

    async def _rpc(self, request: Request) -> Response:
        try:
            call = json.loads(await request.body())
        except ValueError:
            return _error(None, -32700, "Parse error")
        self.requests.append((dict(request.headers), call))
        rid, method, params = call.get("id"), call.get("method"), call.get("params") or {}
        if method in ("message/send", "message/stream"):
            message = params.get("message") or {}
            text = " ".join(p.get("text", "") for p in message.get("parts", [])
                            if p.get("kind") == "text")
            if text == "fail":
                return _error(rid, -32602, "Invalid params", {"reason": "cannot echo 'fail'"})
            task = self._complete(message, text)
            if method == "message/send":
                return _result(rid, task)
            return StreamingResponse(self._events(rid, task), media_type="text/event-stream")
        if method == "tasks/get":
            found = self.tasks.get(params.get("id", ""))
            if found is None:
                return _error(rid, -32001, "Task not found")
            return _result(rid, found)
        return _error(rid, -32601, "Method not found")

    def _complete(self, message: dict[str, Any], text: str) -> dict[str, Any]:
        task_id = f"task-{len(self.tasks) + 1}"
        task = {
            "kind": "task",
            "id": task_id,
            "contextId": message.get("contextId") or f"context-{task_id}",
            "status": {"state": "completed"},
            "history": [message],
            "artifacts": [{"artifactId": "echo", "parts": [{"kind": "text",
                                                            "text": text.upper()}]}],
        }
        self.tasks[task_id] = task
        return task

    async def _events(self, rid: Any, task: dict[str, Any]) -> AsyncIterator[str]:
        ids = {"taskId": task["id"], "contextId": task["contextId"]}
        events = [
            {**task, "status": {"state": "submitted"}, "artifacts": []},
            {"kind": "status-update", **ids, "status": {"state": "working"}, "final": False},
            {"kind": "artifact-update", **ids, "artifact": task["artifacts"][0]},
            {"kind": "status-update", **ids, "status": {"state": "completed"}, "final": True},
        ]
        for event in events:
            yield f"data: {json.dumps({'jsonrpc': '2.0', 'id': rid, 'result': event})}\n\n"


def _result(rid: Any, result: Any) -> Response:
    return JSONResponse({"jsonrpc": "2.0", "id": rid, "result": result})


def _error(rid: Any, code: int, message: str, data: Any = None) -> Response:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return JSONResponse({"jsonrpc": "2.0", "id": rid, "error": error})
