"""The JSON shapes the commands print: they live in ``podium.records``, shared
with the HTTP API (``podium serve``) so both show an instance the same way."""

from podium.records import (
    definition_json,
    entry_json,
    event_json,
    instance_json,
    iso,
    waiting_for_json,
    workflow_ref,
)

__all__ = [
    "definition_json", "entry_json", "event_json", "instance_json", "iso",
    "waiting_for_json", "workflow_ref",
]
