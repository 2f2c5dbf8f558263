"""What Podium accepts as a CloudEvent, and how one arrives over HTTP (or NATS).

Every entry point (``podium events publish``, the NATS consumer, the HTTP
ingress) validates here, so an event is refused the same way, with a message
naming the attribute, wherever it came from. The rules are CloudEvents 1.0's
("Context Attributes", "Type System", "Naming Conventions") and its JSON
format's (``data`` xor ``data_base64``), plus Podium's own size and depth
limits (README "Limits"), checked before anything else so that a hostile event
is never walked twice.

The normalized form is the JSON (structured) form: a dict of attributes with
``data`` (any JSON value) or ``data_base64`` (a string). Binary-mode messages
are turned into it by ``parse_http``.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import unquote

from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings import http
from cloudevents.core.formats.json import JSONFormat

from podium.dsl import strict_json
from podium.dsl.strict_json import JSONDataError, JSONTextError
from podium.limits import MAX_PAYLOAD_BYTES

SPECVERSION = "1.0"
REQUIRED = ("specversion", "id", "source", "type")
OPTIONAL = ("datacontenttype", "dataschema", "subject", "time")
DATA = ("data", "data_base64")

STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"

# Naming Conventions: lower-case ASCII letters and digits only.
_NAME = re.compile(r"^[a-z0-9]+$")
# The Type System's Integer: a 32-bit signed integer.
_INT_MIN, _INT_MAX = -(2**31), 2**31 - 1
# RFC 3339 date-time (the Type System's Timestamp); datetime checks the ranges.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$"
)
# RFC 2046 media type: type "/" subtype, then parameters.
_MEDIA_TYPE = re.compile(r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+\s*(;.*)?$")
# A URI has a scheme (RFC 3986 section 3.1).
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
# What no URI reference holds: whitespace and control characters.
_NOT_URI = re.compile(r"[\s\x00-\x1f\x7f]")


class InvalidEvent(ValueError):
    """An event that is not a CloudEvent Podium accepts; the message names the
    event (``event 2 of 3``) when it was one of several, and the attribute."""


def _fail(where: str, message: str) -> InvalidEvent:
    return InvalidEvent(f"{where}: {message}" if where else message)


def validate(obj: Any, where: str = "") -> dict[str, Any]:
    """The event ``obj`` (structured JSON form) checked against CloudEvents 1.0,
    as a new dict; ``InvalidEvent`` names the first problem (prefixed by
    ``where``, e.g. ``event 2 of 3``)."""
    if not isinstance(obj, Mapping):
        kind = "an array" if isinstance(obj, list) else f"a {type(obj).__name__}"
        raise _fail(where, f"a CloudEvent is a JSON object, not {kind}")
    event = dict(obj)
    problem = strict_json.payload_problem(event)
    if problem is not None:
        raise _fail(where, problem)
    for name in REQUIRED:
        if name not in event:
            raise _fail(where, f"{name!r} is required")
    for name, check in _CHECKS.items():
        if name in event:
            message = check(event[name])
            if message is not None:
                raise _fail(where, f"{name!r} {message}")
    for name, value in event.items():
        if name in REQUIRED or name in OPTIONAL or name in DATA:
            continue
        message = _extension_problem(name, value)
        if message is not None:
            raise _fail(where, message)
    if "data" in event and "data_base64" in event:
        raise _fail(where, "'data' and 'data_base64' cannot both be present")
    return event


def validate_all(objects: Sequence[Any]) -> list[dict[str, Any]]:
    """Every event of a batch validated, or ``InvalidEvent`` for the first that is
    not (named ``event N of M``, counting from 1): all or nothing."""
    count = len(objects)
    if count == 1:
        return [validate(objects[0])]
    return [validate(obj, f"event {index} of {count}")
            for index, obj in enumerate(objects, start=1)]


def _string(value: Any) -> str | None:
    if not isinstance(value, str) or not value:
        return "must be a non-empty string"
    return None


def _specversion(value: Any) -> str | None:
    return None if value == SPECVERSION else f'must be "{SPECVERSION}"'


def _uri_reference(value: Any) -> str | None:
    problem = _string(value)
    if problem is None and _NOT_URI.search(value):
        return "must be a URI reference (no spaces or control characters)"
    return problem


def _uri(value: Any) -> str | None:
    problem = _uri_reference(value)
    if problem is None and not _SCHEME.match(value):
        return "must be an absolute URI (with a scheme, like https:)"
    return problem


def _media_type(value: Any) -> str | None:
    problem = _string(value)
    if problem is None and not _MEDIA_TYPE.match(value):
        return "must be a media type (RFC 2046), like application/json"
    return problem


def _timestamp(value: Any) -> str | None:
    if isinstance(value, str) and _RFC3339.match(value):
        try:
            datetime.fromisoformat(value.upper())
            return None
        except ValueError:
            pass
    return "must be an RFC 3339 timestamp, like 2026-01-02T03:04:05Z"


def _base64(value: Any) -> str | None:
    if not isinstance(value, str):
        return "must be a string of base64"
    try:
        base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        return "must be base64 (RFC 4648)"
    return None


_CHECKS = {
    "specversion": _specversion,
    "id": _string,
    "source": _uri_reference,
    "type": _string,
    "subject": _string,
    "datacontenttype": _media_type,
    "dataschema": _uri,
    "time": _timestamp,
    "data_base64": _base64,
}


def _extension_problem(name: str, value: Any) -> str | None:
    if not _NAME.match(name):
        return (f"extension attribute {name!r}: names are lower-case letters a-z and "
                "digits 0-9 only (CloudEvents naming conventions)")
    if isinstance(value, bool | str):
        return None
    if isinstance(value, int):
        if _INT_MIN <= value <= _INT_MAX:
            return None
        return f"extension attribute {name!r} must be a 32-bit integer"
    what = "null" if value is None else f"a {type(value).__name__}"
    return (f"extension attribute {name!r} must be a string, an integer or a boolean, "
            f"not {what}")


# HTTP (and NATS, whose binding has the same shape) -------------------------------------------


def parse_http(headers: Mapping[str, str], body: bytes) -> list[dict[str, Any]]:
    """The events of an HTTP message, validated: structured mode (one JSON
    event), batch mode (``application/cloudevents-batch+json``: a JSON array), or
    binary mode (attributes in ``ce-`` headers, ``Content-Type`` the event's
    ``datacontenttype``, the body its data). ``InvalidEvent`` for a message that
    holds anything else, naming what is wrong; all or nothing."""
    lowered = {name.lower(): value for name, value in headers.items()}
    if len(body) > MAX_PAYLOAD_BYTES:
        raise InvalidEvent(f"the body is larger ({len(body):,} bytes) than the limit of "
                           f"{MAX_PAYLOAD_BYTES:,} bytes")
    content_type = lowered.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if any(name.startswith("ce-") for name in lowered):
        return [validate(_binary(lowered, body))]
    if media == BATCH:
        events = _json(body, "the batch")
        if not isinstance(events, list):
            raise InvalidEvent("a batch (application/cloudevents-batch+json) is a JSON array")
        return validate_all(events)
    if media == STRUCTURED or media.endswith("+json") or media in ("application/json", ""):
        return [validate(_json(body, "the event"))]
    raise InvalidEvent(f"Content-Type {content_type!r} holds no CloudEvent: send "
                       f"{STRUCTURED}, {BATCH}, or binary mode (ce-* headers)")


def _json(body: bytes, what: str) -> Any:
    try:
        return strict_json.loads(body.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidEvent(f"{what} is not UTF-8 text ({exc.reason})") from None
    except JSONTextError as exc:
        raise InvalidEvent(f"{what} is not valid JSON: {exc}") from None
    except JSONDataError as exc:
        raise InvalidEvent(f"{what}: {exc}") from None


def _binary(headers: Mapping[str, str], body: bytes) -> dict[str, Any]:
    """A binary-mode message in structured form. The cloudevents SDK maps the
    headers (``ce-`` names, percent-decoding, ``Content-Type``); the body is read
    here, strictly, since the SDK reads JSON leniently (NaN, any depth)."""
    attributes = _attributes(headers)
    if not body:
        return attributes
    content_type = attributes.get("datacontenttype")
    media = str(content_type or "application/json").split(";", 1)[0].strip().lower()
    if media == "application/json" or media.endswith("+json") or media == "text/json":
        attributes["data"] = _json(body, "the data")
    else:
        try:
            attributes["data"] = body.decode("utf-8")
        except UnicodeDecodeError:
            attributes["data_base64"] = base64.b64encode(body).decode("ascii")
    return attributes


class _Captured(BaseCloudEvent):
    """What the SDK read from the headers, before any validation of its own: ours
    names the attribute in Podium's words, for every entry point alike."""

    def __init__(self, attributes: dict[str, Any], data: Any = None) -> None:
        self.attributes = attributes


def _attributes(headers: Mapping[str, str]) -> dict[str, Any]:
    # The SDK parses `time` with dateutil, which takes much that is not RFC 3339:
    # keep the header's own text, checked by `validate` like a structured event's.
    time = headers.get("ce-time")
    message = http.HTTPMessage(
        headers={name: value for name, value in headers.items() if name != "ce-time"},
        body=b"",
    )
    captured = http.from_binary(message, JSONFormat(), _Captured)
    attributes = dict(captured.attributes) if isinstance(captured, _Captured) else {}
    if time is not None:
        attributes["time"] = unquote(time)
    return attributes
