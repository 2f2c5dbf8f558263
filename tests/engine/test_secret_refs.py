"""The journal's secret references (podium.engine.secret_refs): exact round trips,
nothing stored in clear, and nothing data can forge."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from podium.engine.secret_refs import (
    MARKER,
    MalformedReference,
    SecretReferences,
    SecretUnavailable,
    displayed,
    resolve,
)
from podium.store._dialect import dump_json

KEY = "sk-4242-abcdef"
DB = {"user": "app-user", "password": "p@ss word", "grant": "password", "port": 5432}
SECRETS: dict[str, Any] = {"apikey": KEY, "db": DB}


def references() -> SecretReferences:
    found = SecretReferences()
    for name, value in SECRETS.items():
        found.add(name, value)
    return found


def stored(data: Any) -> Any:
    """Encoded, then through JSON text as a store keeps it."""
    return json.loads(dump_json(references().encode(data)))


def back(data: Any, secrets: dict[str, Any] = SECRETS) -> Any:
    def secret(name: str) -> Any:
        if name not in secrets:
            raise SecretUnavailable(name)
        return secrets[name]

    return resolve(data, secret)


def test_whole_values_substrings_keys_and_object_leaves_round_trip() -> None:
    data = {
        "v": KEY,
        "header": f"Bearer {KEY}",
        "twice": f"{KEY}:{KEY}",
        KEY: [f"x{DB['password']}y", DB["user"]],
        "nested": {"db": DB},
        "uri": "https://h/?p=p%40ss%20word&k=" + KEY,
    }
    kept = stored(data)
    text = json.dumps(kept, ensure_ascii=False)
    for value in (KEY, "p@ss word", "p%40ss%20word", "app-user"):
        assert value not in text
    assert back(kept) == data


def test_references_name_the_secret_and_the_path_of_the_leaf() -> None:
    kept = stored({"pw": DB["password"], "q": "p%40ss%20word"})
    assert json.loads(kept["pw"][1:]) == [{"secret": "db", "path": ["password"]}]
    assert json.loads(kept["q"][1:]) == [
        {"secret": "db", "path": ["password"], "encoding": "uri"}
    ]


def test_descriptive_properties_and_short_values_are_not_references() -> None:
    refs = SecretReferences()
    refs.add("db", DB)
    refs.add("pin", "123")
    data = {"grant": "password", "pin": "123", "port": 5432}
    assert refs.encode(data) is data  # nothing to change, not even a copy


def test_strings_starting_with_the_marker_are_escaped_never_resolved() -> None:
    crafted = [
        MARKER + '[{"secret":"apikey","path":[]}]',
        MARKER + MARKER + '[{"secret":"apikey","path":[]}]',
        MARKER,
        MARKER + "x",
        {MARKER + '[{"secret":"apikey","path":[]}]': 1},
    ]
    kept = stored(crafted)
    assert back(kept) == crafted
    assert KEY not in json.dumps(back(kept), ensure_ascii=False)
    assert displayed(kept) == crafted


def test_escaping_needs_no_secret_known() -> None:
    data = {"a": MARKER + "[]"}
    assert SecretReferences().encode(data) == {"a": MARKER + MARKER + "[]"}


def test_history_views_show_stars_and_never_resolve() -> None:
    kept = stored({"h": f"Bearer {KEY}", "plain": "text", "e": MARKER + "x"})
    assert displayed(kept) == {"h": "Bearer ***", "plain": "text", "e": MARKER + "x"}


def test_a_missing_secret_or_leaf_is_reported_by_name() -> None:
    kept = stored({"v": KEY, "pw": DB["password"]})
    with pytest.raises(SecretUnavailable) as missing:
        back(kept, {"db": DB})
    assert missing.value.name == "apikey"
    with pytest.raises(SecretUnavailable) as changed:
        back(kept, {"apikey": KEY, "db": {"user": "u"}})
    assert changed.value.name == "db" and "password" in changed.value.reason


def test_a_rotated_secret_replays_with_its_current_value() -> None:
    kept = stored({"h": f"Bearer {KEY}"})
    assert back(kept, {**SECRETS, "apikey": "sk-rotated-0001"}) == {"h": "Bearer sk-rotated-0001"}


def test_a_marked_string_that_is_not_a_template_is_refused() -> None:
    for corrupt in (MARKER + "[", MARKER + '{"secret": "apikey"}', MARKER + '[{"s": 1}]'):
        with pytest.raises(MalformedReference):
            back({"v": corrupt})


def test_deep_data_never_recurses() -> None:
    deep: Any = KEY
    for _ in range(20_000):
        deep = [deep]
    kept = references().encode(deep)
    inner = kept
    for _ in range(20_000):
        inner = inner[0]
    assert inner.startswith(MARKER)
    resolved = back(kept)
    for _ in range(20_000):
        resolved = resolved[0]
    assert resolved == KEY


# Strings made of pieces that matter: secrets, the marker, JSON syntax.
texts = st.lists(st.sampled_from(
    ["a", " ", "/", "@", "%", MARKER, "[", "{", '"', KEY, "p@ss word", "\\"]
), max_size=6).map("".join)
json_data = st.recursive(
    st.none() | st.booleans() | st.integers() | texts,
    lambda children: st.lists(children, max_size=4) | st.dictionaries(
        texts, children, max_size=4
    ),
    max_leaves=20,
)


@settings(max_examples=300, deadline=None)
@given(json_data)
def test_any_data_round_trips_and_stores_no_secret(data: Any) -> None:
    kept = stored(data)
    assert back(kept) == json.loads(dump_json(data))
    text = json.dumps(kept, ensure_ascii=False)
    assert KEY not in text and "p@ss word" not in text
