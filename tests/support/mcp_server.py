"""A small MCP server for the ``call: mcp`` tests, built with the official SDK.

One tool (``add``), one tool that fails (``explode``), a prompt (``greeting``) and
two resources (``memo://readme`` and the template ``memo://notes/{name}``).

Run as a script it speaks MCP over stdio (``python tests/support/mcp_server.py``);
``MCPHttpServer`` serves it over streamable HTTP from uvicorn in a thread:

    with MCPHttpServer() as server:
        ...  # server.url is the endpoint, e.g. http://127.0.0.1:PORT/mcp
"""

from __future__ import annotations

import os
import socket
import threading
import time
from types import TracebackType

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.types import Receive, Scope, Send

server: MCPServer = MCPServer(name="podium-test", version="1.2.3", log_level="WARNING")


@server.tool()
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@server.tool()
def explode(reason: str) -> str:
    """Always fail, so that a workflow can see a tool error."""
    raise ToolError(f"exploded: {reason}")


@server.tool()
def environment(name: str) -> str:
    """The value of an environment variable of the server process."""
    return os.environ.get(name, "")


@server.prompt()
def greeting(name: str) -> str:
    """Greet someone."""
    return f"Say hello to {name}."


@server.resource("memo://readme", mime_type="text/plain")
def readme() -> str:
    return "Read me first."


@server.resource("memo://notes/{name}", mime_type="text/plain")
def note(name: str) -> str:
    return f"A note about {name}."


class MCPHttpServer:
    """The server above over streamable HTTP on 127.0.0.1 (ephemeral port)."""

    def __init__(self, headers_seen: list[dict[str, str]] | None = None) -> None:
        import uvicorn

        self.headers_seen: list[dict[str, str]] = [] if headers_seen is None else headers_seen
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/mcp"
        app = server.streamable_http_app(stateless_http=True, json_response=True)
        seen = self.headers_seen

        async def recording(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
            await app(scope, receive, send)

        config = uvicorn.Config(recording, host="127.0.0.1", port=self.port, log_level="warning",
                                lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> MCPHttpServer:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the MCP test server did not start")
            time.sleep(0.01)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


if __name__ == "__main__":
    server.run("stdio")
