"""A stand-in for the Slack MCP server of the spec example ``call-mcp.yaml``
(``npx slack-mcp-serverr@latest --transport stdio``): one tool,
``conversations_add_message``, over stdio, that posts nowhere and answers what
it would have posted. It requires ``SLACK_MCP_XOXP_TOKEN``, as the real one does.
"""

from __future__ import annotations

import os

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError

server: MCPServer = MCPServer(name="slack-stand-in", version="0.0.1", log_level="WARNING")


@server.tool()
def conversations_add_message(channel_id: str, payload: str, thread_ts: str = "",
                              content_type: str = "text/markdown") -> dict[str, str]:
    """Add a message to a channel (or a thread)."""
    if not os.environ.get("SLACK_MCP_XOXP_TOKEN", "").startswith("xoxp-"):
        raise ToolError("SLACK_MCP_XOXP_TOKEN is not set")
    return {"channel": channel_id, "thread_ts": thread_ts, "text": payload,
            "content_type": content_type}


if __name__ == "__main__":
    server.run("stdio")
