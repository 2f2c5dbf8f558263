"""Telemetry tests: metrics read back from their text exposition, spans from an
in-memory exporter, HTTP requests from a local stand-in that records them."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from tests.support.threaded_server import ThreadedServer

Labels = tuple[tuple[str, str], ...]


class Scraped:
    """A scrape's samples by name and labels (``_created`` samples left out)."""

    def __init__(self, text: bytes | str) -> None:
        decoded = text.decode() if isinstance(text, bytes) else text
        self.samples: dict[tuple[str, Labels], float] = {
            (sample.name, tuple(sorted(sample.labels.items()))): sample.value
            for family in text_string_to_metric_families(decoded)
            for sample in family.samples
            if not sample.name.endswith("_created")
        }

    def value(self, name: str, **labels: str) -> float | None:
        return self.samples.get((name, tuple(sorted(labels.items()))))

    def series(self, name: str) -> dict[Labels, float]:
        """Every sample of ``name``: ``{(("label", "value"), ...): value}``."""
        return {labels: value for (found, labels), value in self.samples.items()
                if found == name}


def labels(**given: str) -> Labels:
    return tuple(sorted(given.items()))


class Spans:
    """A tracer provider whose finished spans are kept in memory."""

    def __init__(self) -> None:
        self.exporter = InMemorySpanExporter()
        self.provider = TracerProvider()
        self.provider.add_span_processor(SimpleSpanProcessor(self.exporter))

    def finished(self) -> list[ReadableSpan]:
        return list(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [span for span in self.finished() if span.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, [span.name for span in self.finished()]
        return found[0]


@pytest.fixture
def spans() -> Iterator[Spans]:
    kept = Spans()
    yield kept
    kept.provider.shutdown()


class Recorder:
    """An HTTP service on 127.0.0.1 answering ``{"ok": true}`` to anything and
    keeping the headers of every request (lower-cased names)."""

    def __init__(self) -> None:
        self.headers: list[dict[str, str]] = []

        async def record(request: Request) -> JSONResponse:
            self.headers.append(dict(request.headers.items()))
            return JSONResponse({"ok": True})

        self.app = Starlette(routes=[Route("/{path:path}", record, methods=["GET", "POST"])])


@pytest.fixture
def recorder() -> Iterator[tuple[Recorder, str]]:
    """The recording service and its base URL."""
    service = Recorder()
    with ThreadedServer(service.app) as server:
        yield service, f"http://127.0.0.1:{server.port}"


def document(name: str, tasks: str, version: str = "1.0.0") -> str:
    """``test/<name>:<version>`` whose ``do`` list is ``tasks`` (YAML, indented 2)."""
    return (f"document: {{dsl: '1.0.3', namespace: test, name: {name}, version: '{version}'}}\n"
            f"do:\n{tasks}")


def attributes(span: ReadableSpan) -> dict[str, Any]:
    return dict(span.attributes or {})
