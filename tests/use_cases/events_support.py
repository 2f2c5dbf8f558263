"""Helpers shared by the event-driven use cases (vehicle-auction,
error-notifications, signup-verification): CloudEvents, ``podium serve``'s API,
and what a test reads back (instances, history, the inbox)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from tests.cli.support import as_json, eventually, history, instance, ok


def cloudevent(event_id: str, source: str, event_type: str, data: Any,
               subject: str | None = None) -> dict[str, Any]:
    event = {"specversion": "1.0", "id": event_id, "source": source, "type": event_type,
             "datacontenttype": "application/json", "data": data}
    if subject is not None:
        event["subject"] = subject
    return event



def deploy(store: str, *documents: Path) -> None:
    deployed = ok("deploy", *documents, "--store", store)
    assert deployed.count("deployed") == len(documents), deployed


class Reader:
    """Reads instances back: what a test waits for and asserts on."""

    def instance(self, instance_id: str) -> dict[str, Any]:
        raise NotImplementedError

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def waiting(self, instance_id: str, within: float = 30) -> dict[str, Any]:
        """The instance once it waits in a ``listen`` (its subscription recorded)."""
        found: dict[str, Any] = eventually(
            lambda: (shown := self.instance(instance_id)).get("waitingFor") and shown,
            within, f"{instance_id} to listen")
        return found

    def ended(self, instance_id: str, within: float = 30) -> dict[str, Any]:
        found: dict[str, Any] = eventually(
            lambda: (shown := self.instance(instance_id))["status"]
            in ("completed", "faulted", "cancelled") and shown,
            within, f"{instance_id} to end")
        return found


class CliReader(Reader):
    """Through the CLI (``podium instances get/history --json``), where no
    ``podium serve`` runs."""

    def __init__(self, store: str) -> None:
        self.store = store

    def instance(self, instance_id: str) -> dict[str, Any]:
        return instance(self.store, instance_id)

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        return history(self.store, instance_id)


class Api(Reader):
    """``podium serve``'s REST API at ``base`` (``http://127.0.0.1:PORT``)."""

    def __init__(self, base: str) -> None:
        self.base = f"{base}/api/v1"

    def start(self, workflow: str, data: dict[str, Any], key: str | None = None) -> str:
        body: dict[str, Any] = {"workflow": workflow, "input": data}
        if key is not None:
            body["key"] = key
        answer = httpx.post(f"{self.base}/instances", json=body, timeout=10)
        assert answer.status_code == 201, answer.text
        instance_id: str = answer.json()["id"]
        return instance_id

    def publish(self, *events: dict[str, Any]) -> dict[str, list[str]]:
        """POST a batch of CloudEvents: ``{"stored": [...], "duplicates": [...]}``."""
        answer = httpx.post(f"{self.base}/events", content=json.dumps(list(events)),
                            headers={"Content-Type": "application/cloudevents-batch+json"},
                            timeout=10)
        assert answer.status_code == 202, answer.text
        stored: dict[str, list[str]] = answer.json()
        return stored

    def instance(self, instance_id: str) -> dict[str, Any]:
        answer = httpx.get(f"{self.base}/instances/{instance_id}", timeout=10)
        assert answer.status_code == 200, answer.text
        found: dict[str, Any] = answer.json()
        return found

    def instances(self, workflow: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.base}/instances", params={"workflow": workflow},
                           timeout=10)
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items

    def history(self, instance_id: str) -> list[dict[str, Any]]:
        answer = httpx.get(f"{self.base}/instances/{instance_id}/history",
                           params={"limit": 1000}, timeout=10)
        assert answer.status_code == 200, answer.text
        items: list[dict[str, Any]] = answer.json()["items"]
        return items


def listened(entries: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """What a history says its listeners did with each delivered event:
    ``(use, event id)`` in order (use: ``item``, ``until`` or ``skip``)."""
    return [(entry["data"]["use"], entry["data"]["event"]["id"]) for entry in entries
            if entry["kind"] == "event.received"]


def emitted(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The events a history says its instance emitted, in order."""
    return [entry["data"]["event"] for entry in entries if entry["kind"] == "event.emitted"]


def inbox(store: str, event_type: str) -> list[dict[str, Any]]:
    """The events of a type in the store's inbox (``podium events list --json``)."""
    listed: list[dict[str, Any]] = as_json("events", "list", "--type", event_type,
                                           "--store", store)
    return [item["event"] for item in listed]


def settle(check: Callable[[], Any], seconds: float, within: float = 30) -> None:
    """``check`` holds (within ``within`` seconds) and keeps holding for ``seconds``
    (nothing more arrives)."""
    eventually(check, within, "the expected calls")
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        assert check()
        time.sleep(0.1)
