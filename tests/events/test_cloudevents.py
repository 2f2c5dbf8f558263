"""CloudEvents 1.0 validation, and the HTTP binding's three modes read with the
cloudevents SDK writing the messages (so the two agree on the wire)."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from cloudevents.core.bindings import http
from cloudevents.core.v1.event import CloudEvent

from podium.events.cloudevents import BATCH, InvalidEvent, parse_http, validate, validate_all
from podium.limits import MAX_DEPTH, MAX_PAYLOAD_BYTES


def event(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"specversion": "1.0", "id": "b1", "source": "bidder",
                            "type": "com.example.bid", "data": {"amount": 120}}
    base.update(changes)
    return {name: value for name, value in base.items() if value is not ...}


def refused(obj: Any, where: str = "") -> str:
    with pytest.raises(InvalidEvent) as raised:
        validate(obj, where)
    return str(raised.value)


def test_a_valid_event_comes_back_as_a_copy() -> None:
    given = event(subject="a-1", time="2026-01-02T03:04:05.123+01:00",
                  datacontenttype="application/json", dataschema="https://example.com/bid",
                  traceparent="00-abc", count=3, flag=True)
    valid = validate(given)
    assert valid == given
    assert valid is not given


@pytest.mark.parametrize("name", ["specversion", "id", "source", "type"])
def test_each_required_attribute_is_required(name: str) -> None:
    assert refused(event(**{name: ...})) == f"{name!r} is required"


@pytest.mark.parametrize("name", ["id", "source", "type", "subject"])
@pytest.mark.parametrize("value", ["", 3, None, ["x"]])
def test_string_attributes_must_be_non_empty_strings(name: str, value: Any) -> None:
    assert refused(event(**{name: value})) == f"{name!r} must be a non-empty string"


@pytest.mark.parametrize("value", ["0.3", "1", 1.0, None])
def test_specversion_must_be_1_0(value: Any) -> None:
    assert refused(event(specversion=value)) == "'specversion' must be \"1.0\""


def test_source_must_be_a_uri_reference() -> None:
    assert "'source' must be a URI reference" in refused(event(source="not a uri"))
    assert validate(event(source="/sensors/tn-1"))["source"] == "/sensors/tn-1"


@pytest.mark.parametrize("value", ["2026-01-02", "2026-01-02T03:04:05", "yesterday",
                                   "2026-13-02T03:04:05Z", "2026-01-02T25:04:05Z", 1234])
def test_time_must_be_an_rfc_3339_timestamp(value: Any) -> None:
    assert refused(event(time=value)).startswith("'time' must be an RFC 3339 timestamp")


@pytest.mark.parametrize("value", ["2026-01-02T03:04:05Z", "2026-01-02t03:04:05.5z",
                                   "2026-01-02T03:04:05-07:00"])
def test_rfc_3339_timestamps_are_accepted(value: str) -> None:
    assert validate(event(time=value))["time"] == value


def test_dataschema_must_be_an_absolute_uri() -> None:
    assert "'dataschema' must be an absolute URI" in refused(event(dataschema="schemas/bid"))


def test_datacontenttype_must_be_a_media_type() -> None:
    assert "'datacontenttype' must be a media type" in refused(event(datacontenttype="json"))


@pytest.mark.parametrize("name", ["Amount", "my_ext", "my-ext", "é"])
def test_extension_names_are_lowercase_letters_and_digits(name: str) -> None:
    message = refused(event(**{name: "x"}))
    assert message.startswith(f"extension attribute {name!r}: names are lower-case")


@pytest.mark.parametrize(("value", "what"), [(None, "null"), ({"a": 1}, "a dict"),
                                             ([1], "a list"), (1.5, "a float")])
def test_extension_values_are_strings_integers_or_booleans(value: Any, what: str) -> None:
    assert refused(event(myext=value)) == (
        f"extension attribute 'myext' must be a string, an integer or a boolean, not {what}"
    )


def test_extension_integers_are_32_bit() -> None:
    assert validate(event(big=2**31 - 1))["big"] == 2**31 - 1
    assert "must be a 32-bit integer" in refused(event(big=2**31))


def test_data_and_data_base64_not_both() -> None:
    assert refused(event(data_base64="aGk=")) == (
        "'data' and 'data_base64' cannot both be present"
    )
    assert validate(event(data=..., data_base64="aGk="))["data_base64"] == "aGk="
    assert refused(event(data=..., data_base64="not base64!")) == (
        "'data_base64' must be base64 (RFC 4648)"
    )


def test_an_event_is_a_json_object() -> None:
    assert refused([event()], "event 1") == "event 1: a CloudEvent is a JSON object, not an array"
    assert refused("x") == "a CloudEvent is a JSON object, not a str"


def test_limits_of_depth_and_size() -> None:
    deep: Any = 1
    for _ in range(MAX_DEPTH + 1):
        deep = [deep]
    assert "nested deeper than 100 levels" in refused(event(data=deep))
    large = event(data="x" * MAX_PAYLOAD_BYTES)
    assert "more than the limit" in refused(large)
    assert "not JSON data" in refused(event(data={1, 2}))


def test_a_batch_names_the_event_at_fault_counting_from_one() -> None:
    with pytest.raises(InvalidEvent) as raised:
        validate_all([event(), event(id="b2", source=...), event(id="b3")])
    assert str(raised.value) == "event 2 of 3: 'source' is required"
    assert [e["id"] for e in validate_all([event(), event(id="b2")])] == ["b1", "b2"]


# HTTP ----------------------------------------------------------------------------------------


def sdk_event(data: Any = None, **attributes: Any) -> CloudEvent:
    given = {"id": "h1", "source": "/shop", "type": "com.example.order",
             "time": "2026-01-02T03:04:05Z", **attributes}
    from dateutil.parser import isoparse

    given["time"] = isoparse(given["time"])
    return CloudEvent(attributes=given, data=data)


def test_structured_mode_written_by_the_sdk() -> None:
    message = http.to_structured_event(sdk_event({"total": 12}, subject="o-1", tenant="acme"))
    [parsed] = parse_http(message.headers, message.body)
    assert parsed == {"specversion": "1.0", "id": "h1", "source": "/shop",
                      "type": "com.example.order", "time": "2026-01-02T03:04:05Z",
                      "subject": "o-1", "tenant": "acme", "data": {"total": 12}}


def test_binary_mode_written_by_the_sdk() -> None:
    message = http.to_binary_event(
        sdk_event({"total": 12}, datacontenttype="application/json", subject="o 1/é")
    )
    assert message.headers["ce-subject"] == "o%201/%C3%A9"  # the SDK percent-encodes
    [parsed] = parse_http(message.headers, message.body)
    assert parsed == {"specversion": "1.0", "id": "h1", "source": "/shop",
                      "type": "com.example.order", "time": "2026-01-02T03:04:05Z",
                      "subject": "o 1/é", "datacontenttype": "application/json",
                      "data": {"total": 12}}


def test_binary_mode_text_and_bytes() -> None:
    text = http.to_binary_event(sdk_event("hello", datacontenttype="text/plain"))
    assert parse_http(text.headers, text.body)[0]["data"] == "hello"
    raw = bytes([0, 255, 1])
    binary = http.to_binary_event(sdk_event(raw, datacontenttype="application/octet-stream"))
    [parsed] = parse_http(binary.headers, binary.body)
    assert parsed["data_base64"] == base64.b64encode(raw).decode()
    assert "data" not in parsed


def test_binary_mode_is_validated_like_structured() -> None:
    headers = {"ce-specversion": "1.0", "ce-id": "x", "ce-type": "t"}
    with pytest.raises(InvalidEvent, match=r"^'source' is required$"):
        parse_http(headers, b"")
    with pytest.raises(InvalidEvent, match="'time' must be an RFC 3339 timestamp"):
        parse_http({**headers, "ce-source": "s", "ce-time": "tomorrow"}, b"")
    with pytest.raises(InvalidEvent, match="the data is not valid JSON"):
        parse_http({**headers, "ce-source": "s", "content-type": "application/json"}, b"{NaN")


def test_batch_mode() -> None:
    events = [json.loads(http.to_structured_event(sdk_event(n, id=f"b{n}")).body)
              for n in (1, 2)]
    body = json.dumps(events).encode()
    parsed = parse_http({"Content-Type": BATCH}, body)
    assert [(e["id"], e["data"]) for e in parsed] == [("b1", 1), ("b2", 2)]
    events[1].pop("type")
    with pytest.raises(InvalidEvent, match=r"^event 2 of 2: 'type' is required$"):
        parse_http({"Content-Type": BATCH}, json.dumps(events).encode())
    with pytest.raises(InvalidEvent, match="is a JSON array"):
        parse_http({"Content-Type": BATCH}, json.dumps(events[0]).encode())


def test_what_is_no_cloudevent_message() -> None:
    with pytest.raises(InvalidEvent, match="Content-Type 'text/plain' holds no CloudEvent"):
        parse_http({"Content-Type": "text/plain"}, b"hi")
    with pytest.raises(InvalidEvent, match="the event is not valid JSON"):
        parse_http({"Content-Type": "application/cloudevents+json"}, b"{")
    with pytest.raises(InvalidEvent, match="larger"):
        parse_http({}, b" " * (MAX_PAYLOAD_BYTES + 1))
