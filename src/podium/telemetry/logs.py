"""Log lines as JSON objects, one per line (``--log-format json``).

Each line carries ``time``, ``level``, ``logger`` and ``message``, and, where
they apply, the instance the line is about (``instance_id``, ``workflow``), the
task (``task``: its reference; ``position``: which execution of it) and, while
tracing, the ``trace_id``/``span_id`` of the current span. Those come from the
context the line was logged in (``podium.engine.scope``: the run and the task
running now, or the instance a worker is handling), so no log call has to pass
them; ``extra={"task": ...}`` overrides them. Messages are written as logged:
what Podium logs never holds a secret value (errors and events are redacted
before they leave an instance).
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

from podium.engine.scope import CURRENT_RUN, CURRENT_TASK, WORKING_ON

FORMATS = ("text", "json")
_FIELDS = ("instance_id", "workflow", "task", "position")


class JsonFormatter(logging.Formatter):
    """One JSON object per record (see the module docstring)."""

    def __init__(self, trace_ids: bool = False) -> None:
        super().__init__()
        self._span: Any = None
        if trace_ids:
            from opentelemetry import trace

            self._span = trace.get_current_span

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": _utc(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        entry.update(_context())
        for name in _FIELDS:
            given = record.__dict__.get(name)
            if given is not None:
                entry[name] = given
        if self._span is not None:
            found = self._span().get_span_context()
            if found.is_valid:
                entry["trace_id"] = f"{found.trace_id:032x}"
                entry["span_id"] = f"{found.span_id:016x}"
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def _context() -> dict[str, str]:
    fields: dict[str, str] = {}
    run = CURRENT_RUN.get()
    if run is not None:
        definition = run.instance.definition
        fields["instance_id"] = run.instance.id
        fields["workflow"] = f"{definition.namespace}/{definition.name}"
    else:
        working_on = WORKING_ON.get()
        if working_on is not None:
            fields["instance_id"], fields["workflow"] = working_on
    task = CURRENT_TASK.get()
    if task is not None:
        fields["task"] = task.reference
        fields["position"] = task.position
    return fields


def _utc(created: float) -> str:
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(created))
    return f"{stamp}.{int(created * 1000) % 1000:03d}Z"
