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
import sys
from pathlib import Path

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from starlette.types import Receive, Scope, Send

if __name__ == "__main__":  # run as a script (stdio): make the `tests` package importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.support.threaded_server import ThreadedServer

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


class MCPHttpServer(ThreadedServer):
    """The server above over streamable HTTP on 127.0.0.1 (ephemeral port)."""

    def __init__(self, headers_seen: list[dict[str, str]] | None = None) -> None:
        self.headers_seen: list[dict[str, str]] = [] if headers_seen is None else headers_seen
        app = server.streamable_http_app(stateless_http=True, json_response=True)
        seen = self.headers_seen

        async def recording(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http":
                seen.append({k.decode(): v.decode() for k, v in scope["headers"]})
            await app(scope, receive, send)

        super().__init__(recording, lifespan="on")
        self.url = f"http://127.0.0.1:{self.port}/mcp"


if __name__ == "__main__":
    server.run("stdio")
