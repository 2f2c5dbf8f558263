"""What a runtime shares with every execution: clients, bus, listeners, secrets."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import httpx

from podium.config import Settings
from podium.engine.lifecycle import Listener
from podium.events.bus import EventBus
from podium.expressions.sandbox import Sandbox

if TYPE_CHECKING:
    from podium.engine.host import Host


@dataclass
class Services:
    http: httpx.AsyncClient
    bus: EventBus
    listeners: list[Listener] = field(default_factory=list)
    secrets: Mapping[str, Any] = field(default_factory=dict)
    runtime_descriptor: dict[str, Any] = field(default_factory=dict)
    settings: Settings = field(default_factory=Settings)
    # Texts of external resources already read (see podium.resources).
    resource_cache: dict[str, str] = field(default_factory=dict)
    # What listen, emit and subflows ask of the process running them (engine.host).
    host: Host | None = None
    # Where unbounded expressions run (child processes, started when first needed).
    sandbox: Sandbox = field(default_factory=Sandbox)
