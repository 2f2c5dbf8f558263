"""Start the local stand-ins of a use case: ``python -m examples.use_cases NAME``.

Each use case lives in ``examples/use-cases/<name>/``: its workflow document(s),
a ``README.md`` with the exact commands, sample inputs and events, and a
``services.py`` with the small local services the workflow calls. A
``services.py`` declares them in ``STANDINS``, a list of ``StandIn`` (a name, a
fixed port on 127.0.0.1 that the workflow documents name, and an ASGI app),
and records what they receive in ``Calls`` objects, so the tests can assert
that every side effect arrived exactly once.

    python -m examples.use_cases                  # lists the use cases
    python -m examples.use_cases payment-processing

The tests (tests/use_cases/) start the same stand-ins with ``running(NAME)``.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

import httpx
import uvicorn

CASES = Path(__file__).resolve().parent / "use-cases"

# Where `podium serve` listens, for stand-ins that publish events to it (a link a
# human clicks: an approval, a verification).
PODIUM_URL = os.environ.get("PODIUM_URL", "http://127.0.0.1:8080")


@dataclass(frozen=True)
class StandIn:
    """One local service of a use case: served on ``http://127.0.0.1:<port>``."""

    name: str
    port: int
    app: Callable[..., Any]  # an ASGI application (Starlette)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass(frozen=True)
class Call:
    """One request a stand-in received."""

    name: str  # what the stand-in calls the operation, e.g. "capture"
    body: Any  # the JSON body (None when there was none)
    headers: dict[str, str] = field(default_factory=dict)  # names lower-cased
    at: float = 0.0  # time.time()


class Calls:
    """What a stand-in received, in order; safe across the server thread and a test."""

    def __init__(self) -> None:
        self._calls: list[Call] = []
        self._lock = threading.Lock()

    def record(self, name: str, body: Any = None, headers: dict[str, str] | None = None) -> Call:
        call = Call(name, body, {k.lower(): v for k, v in (headers or {}).items()}, time.time())
        with self._lock:
            self._calls.append(call)
        return call

    def named(self, name: str) -> list[Call]:
        with self._lock:
            return [call for call in self._calls if call.name == name]

    def names(self) -> list[str]:
        with self._lock:
            return [call.name for call in self._calls]

    def clear(self) -> None:
        with self._lock:
            self._calls.clear()

    def __len__(self) -> int:
        with self._lock:
            return len(self._calls)


async def publish(event: dict[str, Any], podium_url: str) -> str | None:
    """POST one CloudEvent to ``podium serve`` at ``podium_url`` (its
    ``/api/v1/events``, structured mode); what Podium answered when it did not
    accept it, else None."""
    async with httpx.AsyncClient() as client:
        answer = await client.post(f"{podium_url}/api/v1/events", json=event,
                                   headers={"Content-Type": "application/cloudevents+json"})
    return None if answer.status_code == 202 else answer.text


_log = logging.getLogger("examples.use_cases")


def say(text: str) -> None:
    """What a stand-in tells the person watching the launcher (printed by ``main``;
    in tests it goes to logging, not to a stdout that a CLI run may be capturing)."""
    _log.info(text)


def names() -> list[str]:
    """The use cases, by directory name."""
    return sorted(p.parent.name for p in CASES.glob("*/services.py"))


def directory(name: str) -> Path:
    return CASES / name


def load(name: str) -> ModuleType:
    """The ``services.py`` of use case ``name``, imported once per process."""
    module_name = f"use_case_{name.replace('-', '_')}"
    if module_name in sys.modules:
        return sys.modules[module_name]
    path = CASES / name / "services.py"
    if not path.is_file():
        raise SystemExit(f"no use case named {name!r}; there are: {', '.join(names())}")
    spec = importlib.util.spec_from_file_location(module_name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return module


class _Served:
    """A stand-in served by uvicorn in a daemon thread."""

    def __init__(self, standin: StandIn) -> None:
        config = uvicorn.Config(standin.app, host="127.0.0.1", port=standin.port,
                                log_level="warning", lifespan="off")
        self.standin = standin
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True,
                                       name=f"standin-{standin.name}")

    def start(self) -> None:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError(f"the {self.standin.name} stand-in did not start on "
                                   f"{self.standin.url} (is the port taken?)")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@contextmanager
def running(name: str) -> Iterator[ModuleType]:
    """Serve the stand-ins of use case ``name`` while the block runs; yields its
    ``services`` module (its ``Calls`` are cleared first)."""
    services = load(name)
    reset = getattr(services, "reset", None)
    if callable(reset):
        reset()
    served = [_Served(standin) for standin in services.STANDINS]
    try:
        for server in served:
            server.start()
        yield services
    finally:
        for server in served:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m examples.use_cases",
        description="Serve the local stand-ins of a use case until Ctrl-C.")
    parser.add_argument("name", nargs="?", help="the use case (a directory of "
                        "examples/use-cases); without it, the list")
    arguments = parser.parse_args(argv)
    if arguments.name is None:
        for case in names():
            print(case)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    stop = threading.Event()

    def interrupted(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, interrupted)
    signal.signal(signal.SIGTERM, interrupted)
    with running(arguments.name) as services:
        for standin in services.STANDINS:
            print(f"{standin.name}: {standin.url}", flush=True)
        print(json.dumps({"use_case": arguments.name, "ready": True}), flush=True)
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
