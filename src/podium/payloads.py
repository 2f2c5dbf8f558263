"""Payloads entering an instance: response bodies, messages, documents read at
run time (issue 7, items 1 and 10; README "Limits").

- Size: a body is read while counting, at most ``MAX_PAYLOAD_BYTES`` (decoded:
  a small gzip body cannot inflate past the limit either); beyond it the call
  faults with a communication error naming the limit, without buffering the rest.
- Depth: JSON nested deeper than ``MAX_DEPTH`` faults the call; never a
  ``RecursionError``, however deep.
- Strict JSON: ``NaN``, ``Infinity`` and numbers too large for a double (``1e999``)
  are not JSON. ``parse_json`` refuses them as it refuses any text that is not
  JSON (``NotJSON``); the caller decides what a body that is not JSON becomes
  (text, for an HTTP call; an error, for a JSON-RPC reply).

HTTP clients get both limits from ``guard``: a response hook wraps each body
stream, so every reader (a call, a resource, a token endpoint, a stream of
server-sent events) is bounded in one place.
"""

from __future__ import annotations

import json
import math
import zlib
from collections.abc import AsyncIterator
from typing import Any

import httpx

from podium.errors import WorkflowError
from podium.limits import MAX_DEPTH, MAX_PAYLOAD_BYTES, depth_exceeds

# Encodings decoded here, under the size limit. httpx would decode brotli and
# zstd too when their packages are installed, without a bound: they are never
# asked for (``Accept-Encoding``), and refused if sent anyway.
_GZIP = ("gzip", "x-gzip")
_DEFLATE = ("deflate",)
_ACCEPTED = "gzip, deflate"
_STATUS = 502  # the remote end answered something this runtime will not take in


class NotJSON(ValueError):
    """Text that is not strict JSON."""


def _constant(name: str) -> Any:
    raise NotJSON(f"{name} is not JSON")


def _number(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise NotJSON(f"the number {text[:40]} is too large for JSON's doubles")
    return value


def too_large(what: str, where: str | None = None) -> WorkflowError:
    return WorkflowError.communication(
        f"{what} is larger than {MAX_PAYLOAD_BYTES} bytes, the payload limit",
        status=_STATUS, title="Payload Too Large", instance=where,
    )


def too_deep(what: str, where: str | None = None) -> WorkflowError:
    return WorkflowError.communication(
        f"{what} nests objects and arrays deeper than {MAX_DEPTH} levels, the depth limit",
        status=_STATUS, title="Payload Too Deep", instance=where,
    )


def parse_json(text: str | bytes, what: str, where: str | None = None) -> Any:
    """A JSON payload entering an instance: ``NotJSON`` (a ``ValueError``) when it
    is not strict JSON, a ``WorkflowError`` when it is beyond the limits."""
    size = len(text) if isinstance(text, bytes) else len(text.encode("utf-8", "replace"))
    if size > MAX_PAYLOAD_BYTES:
        raise too_large(what, where)
    try:
        value = json.loads(text, parse_constant=_constant, parse_float=_number)
    except RecursionError:
        raise too_deep(what, where) from None
    except NotJSON:
        raise
    except ValueError as exc:  # JSONDecodeError, bad UTF-8, an integer of 5,000 digits
        raise NotJSON(str(exc)) from None
    if depth_exceeds(value):
        raise too_deep(what, where)
    return value


def check_data(value: Any, what: str, where: str | None = None) -> Any:
    """Data a library parsed for us (an MCP result): within the same limits."""
    if depth_exceeds(value):
        raise too_deep(what, where)
    try:
        size = len(json.dumps(value, allow_nan=False, ensure_ascii=False).encode())
    except ValueError:
        raise WorkflowError.communication(
            f"{what} holds NaN or Infinity, which are not JSON", status=_STATUS,
            instance=where,
        ) from None
    if size > MAX_PAYLOAD_BYTES:
        raise too_large(what, where)
    return value


# --- HTTP bodies ---------------------------------------------------------------------


def guard(client: httpx.AsyncClient) -> None:
    """Bound every response body ``client`` reads (see the module docstring)."""
    hooks = client.event_hooks
    for event, hook in (("request", _accept), ("response", _limit)):
        if hook not in hooks.get(event, []):  # once, however many runtimes share it
            hooks[event] = [*hooks.get(event, []), hook]
    client.event_hooks = hooks


async def _accept(request: httpx.Request) -> None:
    offered = request.headers.get("accept-encoding", "")
    if "br" in offered or "zstd" in offered:
        request.headers["Accept-Encoding"] = _ACCEPTED


async def _limit(response: httpx.Response) -> None:
    what = f"the response of {response.request.method} {response.request.url}"
    encodings = [e.strip().lower() for e in response.headers.get("content-encoding", "")
                 .split(",") if e.strip() and e.strip().lower() != "identity"]
    declared = response.headers.get("content-length", "")
    has_body = response.request.method != "HEAD" and response.status_code not in (204, 304)
    if has_body and not encodings and declared.isdigit() and int(declared) > MAX_PAYLOAD_BYTES:
        raise too_large(what)  # refused before a byte of it is read
    inflater: _Inflater | None = None
    if encodings:
        if len(encodings) > 1 or encodings[0] not in (*_GZIP, *_DEFLATE):
            raise WorkflowError.communication(
                f"{what} is encoded as {', '.join(encodings)}, which this runtime does not "
                f"decode ({_ACCEPTED} are)", status=_STATUS,
            )
        inflater = _Inflater(gzip=encodings[0] in _GZIP)
        # Decoded here, under the limit: httpx must not decode it again.
        del response.headers["content-encoding"]
    if isinstance(response.stream, httpx.AsyncByteStream):
        response.stream = _LimitedStream(response.stream, inflater, what)


class _Inflater:
    """gzip/deflate with a bound on the output (zlib's ``max_length``)."""

    def __init__(self, gzip: bool) -> None:
        self._gzip = gzip
        self._first = True
        self._decoder = zlib.decompressobj(zlib.MAX_WBITS | 16 if gzip else zlib.MAX_WBITS)

    def decode(self, data: bytes, room: int) -> bytes:
        """At most ``room + 1`` bytes: one more than fits tells the limit is passed."""
        try:
            out = self._decoder.decompress(data, room + 1)
        except zlib.error:
            if self._gzip or not self._first:
                raise
            # "deflate" as some servers send it: raw, without the zlib header.
            self._decoder = zlib.decompressobj(-zlib.MAX_WBITS)
            out = self._decoder.decompress(data, room + 1)
        self._first = False
        return out


class _LimitedStream(httpx.AsyncByteStream):
    def __init__(self, stream: httpx.AsyncByteStream, inflater: _Inflater | None,
                 what: str) -> None:
        self._stream = stream
        self._inflater = inflater
        self._what = what

    async def __aiter__(self) -> AsyncIterator[bytes]:
        total = 0
        async for raw in self._stream:
            chunk = raw
            if self._inflater is not None:
                try:
                    chunk = self._inflater.decode(raw, MAX_PAYLOAD_BYTES - total)
                except zlib.error as exc:
                    raise httpx.DecodingError(f"cannot decode {self._what}: {exc}") from None
            total += len(chunk)
            if total > MAX_PAYLOAD_BYTES:
                raise too_large(self._what)
            yield chunk

    async def aclose(self) -> None:
        await self._stream.aclose()
