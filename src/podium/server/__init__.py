"""``podium serve``: the HTTP API over a runtime (FastAPI). Errors are RFC 7807
problems (``problems``), callers are bearer tokens with roles (``security``),
the routes live in ``app``."""

from podium.server.app import MAX_BODY, ServerSettings, create_app, stop_streams

__all__ = ["MAX_BODY", "ServerSettings", "create_app", "stop_streams"]
