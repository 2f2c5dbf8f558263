"""Workflows calling a protected endpoint, for the authentication tests."""

from __future__ import annotations

from typing import Any

from podium import Runtime


def call(uri: str, authentication: str, use: str = "", extra: str = "") -> str:
    """A one-task workflow calling ``uri`` with an ``authentication`` block (YAML,
    indented by the caller for the ``authentication:`` key)."""
    return f"""
document: {{dsl: '1.0.3', namespace: test, name: auth, version: '1.0.0'}}
{use}
do:
  - call:
      call: http
      with:
        method: get
        endpoint:
          uri: {uri}
          authentication:
{authentication}
{extra}
"""


async def run(doc: str, data: Any = None, **options: Any) -> Any:
    async with Runtime(**options) as runtime:
        return await runtime.run(doc, data)
