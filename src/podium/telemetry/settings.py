"""What the operator chose for telemetry, read without importing a telemetry
library: the log format, and which traces exporter (if any) to set up."""

from __future__ import annotations

from collections.abc import Mapping

LOG_FORMATS = ("text", "json")
EXPORTERS = ("console", "otlp", "none")


def exporter_choice(flag: str | None, environ: Mapping[str, str]) -> str | None:
    """Which traces exporter to use: ``--traces``, else ``OTEL_TRACES_EXPORTER``,
    else ``otlp`` when an OTLP endpoint is configured
    (``OTEL_EXPORTER_OTLP_ENDPOINT``, ``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``);
    None for none at all (also with ``OTEL_SDK_DISABLED=true``)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    choice = (flag or environ.get("OTEL_TRACES_EXPORTER", "")).strip().lower()
    if not choice and (environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
                       or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")):
        choice = "otlp"
    return None if choice in ("", "none") else choice
