"""Telemetry of a runtime: Prometheus metrics, OpenTelemetry spans, JSON logs.

It observes the engine from outside (ARCHITECTURE "Surfaces"): a lifecycle
listener, the run and task scope the engine sets (``podium.engine.scope``), the
host's error reports (``Runtime.report_error``) and the store's counts. See
docs/operations.md for the metric names and the service levels they measure.

    from podium.telemetry import Telemetry
    from podium.telemetry.tracing import provider_from_environment

    telemetry = Telemetry(tracer_provider=provider_from_environment()).attach(runtime)
    text = await telemetry.scrape()

``Telemetry`` is imported on first use: the options of the command line
(``podium.telemetry.settings``) are read without loading prometheus_client.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from podium.telemetry._telemetry import Telemetry

__all__ = ["Telemetry"]


def __getattr__(name: str) -> Any:
    if name == "Telemetry":
        from podium.telemetry._telemetry import Telemetry

        return Telemetry
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
