"""An HTTP endpoint that collects what lifecycle sinks POST to it: a stand-in for
an operator's event collector (Knative broker, an observability pipeline)."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from tests.support.threaded_server import ThreadedServer


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        event: dict[str, Any] = json.loads(self.body)
        return event


class EventCollector(ThreadedServer):
    """``with EventCollector() as collector``: POSTs to ``collector.url`` are kept
    in ``collector.received``; ``answers`` are the statuses of the first requests
    (then 202)."""

    def __init__(self, answers: list[int] | None = None) -> None:
        self.received: list[Received] = []
        self.attempts = 0
        self.answers = list(answers or [])
        self._lock = threading.Lock()
        super().__init__(Starlette(routes=[Route("/events", self._receive, methods=["POST"])]))

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/events"

    async def _receive(self, request: Request) -> Response:
        body = await request.body()
        with self._lock:
            self.attempts += 1
            status = self.answers.pop(0) if self.answers else 202
            if status < 300:
                self.received.append(Received(dict(request.headers), body))
        return Response(status_code=status)

    def events(self) -> list[dict[str, Any]]:
        with self._lock:
            return [received.event for received in self.received]

    def wait_for(self, count: int, within: float = 10.0) -> list[dict[str, Any]]:
        """The events once at least ``count`` arrived."""
        deadline = time.monotonic() + within
        while len(self.received) < count:
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.received)} events arrived, not {count}")
            time.sleep(0.02)
        return self.events()
