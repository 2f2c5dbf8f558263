"""Turning command-line text into values: input documents, workflow files or
names, durations, and the shared ``--store`` and ``--allow-run`` options."""

from __future__ import annotations

import re
import sys
from dataclasses import replace
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from podium import Definition, InvalidWorkflowError, load
from podium.cli._output import invalid, usage_error
from podium.config import (
    Settings,
    parse_allow_hosts,
    parse_allow_run,
    parse_events_url,
    parse_lifecycle_sinks,
)
from podium.dsl import strict_json
from podium.dsl.durations import iso_seconds
from podium.dsl.strict_json import JSONDataError, JSONTextError
from podium.egress import parse_file_roots
from podium.limits import MAX_PAYLOAD_BYTES
from podium.registry import WorkflowName

StoreOption = Annotated[
    str | None,
    typer.Option(
        "--store", envvar="PODIUM_STORE", metavar="URL", show_default="sqlite:///./podium.db",
        help="sqlite:///path/podium.db or postgresql://user@host:5432/db.",
    ),
]

InputOption = Annotated[
    str | None,
    typer.Option(
        "--input", "-i", metavar="JSON|@FILE",
        help="Workflow input: inline JSON, or @path/to/input.json.",
    ),
]

AllowRunOption = Annotated[
    str | None,
    typer.Option(
        "--allow-run", metavar="KINDS", show_default="PODIUM_ALLOW_RUN, else none",
        help="Process kinds `run` tasks may start: shell, script, container "
             "(comma-separated) or all. Overrides PODIUM_ALLOW_RUN.",
    ),
]

AllowHostsOption = Annotated[
    str | None,
    typer.Option(
        "--allow-hosts", metavar="PATTERNS",
        show_default="PODIUM_ALLOW_HOSTS, else all but link-local and cloud metadata addresses",
        help="Hosts calls may reach (comma-separated): names or globs (*.example.com), IPs, "
             "CIDR blocks, each with an optional :port. Overrides PODIUM_ALLOW_HOSTS.",
    ),
]

AllowFilesOption = Annotated[
    str | None,
    typer.Option(
        "--allow-files", metavar="DIRS", show_default="PODIUM_ALLOW_FILES, else none",
        help="Directories file resources may be read from besides the workflow's own "
             "(comma-separated). Overrides PODIUM_ALLOW_FILES.",
    ),
]

EventsOption = Annotated[
    str | None,
    typer.Option(
        "--events", metavar="URL", show_default="PODIUM_EVENTS, else the store only",
        help="NATS JetStream server carrying CloudEvents between processes "
             "(nats://127.0.0.1:4222): events on podium.events.> are stored in the inbox. "
             "Overrides PODIUM_EVENTS.",
    ),
]

LifecycleSinkOption = Annotated[
    list[str] | None,
    typer.Option(
        "--lifecycle-sink", metavar="URL", show_default="PODIUM_LIFECYCLE_SINK, else none",
        help="Send every workflow and task lifecycle CloudEvent to an http(s):// endpoint "
             "(structured mode) or to nats://host:port, optionally with /subject.prefix. "
             "Repeat for several; overrides PODIUM_LIFECYCLE_SINK (comma-separated).",
    ),
]

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def load_file(path: Path) -> Definition:
    """The definition in ``path``; an invalid one prints its problems and exits 2."""
    try:
        return load(path)
    except InvalidWorkflowError as exc:
        invalid(exc.problems)


def parse_input(value: str | None) -> Any:
    """The workflow input from ``--input``: inline JSON, or ``@path`` to a JSON file.
    Strict JSON (no NaN or Infinity), nested at most MAX_DEPTH deep and at most
    MAX_PAYLOAD_BYTES long (README "Limits"); anything else exits 2."""
    if value is None:
        return None
    return json_argument(value, "--input")


def json_argument(value: str, where: str, *, stdin: bool = False) -> Any:
    """A JSON document given on the command line: inline, ``@path`` to a file, or
    (when ``stdin``) ``-`` for standard input; strict and within the limits like
    ``--input``. ``where`` names it in messages; anything wrong exits 2."""
    text = value
    if value.startswith("@"):
        path = Path(value[1:])
        where = f"{where} file {path}"
        text = _read_input(path, where)
    elif stdin and value == "-":
        where = f"{where} from standard input"
        text = _decode(sys.stdin.buffer.read(MAX_PAYLOAD_BYTES + 1), where)
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PAYLOAD_BYTES:
        usage_error(f"{where} is larger ({size:,} bytes) than the limit of "
                    f"{MAX_PAYLOAD_BYTES:,} bytes")
    try:
        return strict_json.loads(text)
    except JSONTextError as exc:
        usage_error(f"{where} is {exc}" if exc.too_deep else f"{where} is not valid JSON: {exc}")
    except JSONDataError as exc:
        usage_error(f"{where}: {exc}")


def _read_input(path: Path, where: str) -> str:
    try:
        with path.open("rb") as file:
            # Never more than the limit and one byte to tell: the file may be endless.
            content = file.read(MAX_PAYLOAD_BYTES + 1)
    except OSError as exc:
        usage_error(f"cannot read {where}: {exc.strerror or exc}")
    return _decode(content, where)


def _decode(content: bytes, where: str) -> str:
    if len(content) > MAX_PAYLOAD_BYTES:
        usage_error(f"{where} is larger than the limit of {MAX_PAYLOAD_BYTES:,} bytes")
    try:
        return content.decode("utf-8")
    except UnicodeDecodeError as exc:
        usage_error(f"cannot read {where}: not UTF-8 text ({exc.reason})")


def workflow_target(text: str) -> Path | WorkflowName:
    """A file path, or a deployed name when no such file exists and the text has
    the shape ``namespace/name[:version]`` (a file name has a dot; a name cannot)."""
    path = Path(text)
    name = WorkflowName.parse(text)
    return path if name is None or path.exists() else name


_SHORTHAND = re.compile(r"(\d+(?:\.\d+)?)([wdhms])")
_UNIT_SECONDS = {"w": 604800.0, "d": 86400.0, "h": 3600.0, "m": 60.0, "s": 1.0}


def parse_duration(text: str, option: str) -> timedelta:
    """ISO 8601 (``P30D``, ``PT1H30M``) or shorthand (``30d``, ``12h``, ``1h30m``)."""
    value = text.strip()
    if value.startswith("P"):
        try:
            return timedelta(seconds=iso_seconds(value))
        except ValueError:
            pass
    elif _SHORTHAND.sub("", value) == "" and value:
        return timedelta(seconds=sum(
            float(amount) * _UNIT_SECONDS[unit] for amount, unit in _SHORTHAND.findall(value)
        ))
    usage_error(
        f"{option} {text!r} is not a duration: use ISO 8601 (P30D, PT1H) or 30d, 12h, 15m, 10s"
    )


def settings(
    allow_run: str | None, allow_hosts: str | None = None, allow_files: str | None = None,
    events: str | None = None,
    lifecycle_sinks: list[str] | None = None,
) -> Settings:
    """The operator's settings from the environment, flags over their ``PODIUM_*``
    variable (``--allow-run``, ``--allow-hosts``, ``--allow-files``, ``--events``,
    ``--lifecycle-sink``); a bad value exits 2."""
    overrides: dict[str, Any] = {}
    if events is not None:
        try:
            overrides["events"] = parse_events_url(events)
        except ValueError as exc:
            usage_error(str(exc))
    if lifecycle_sinks:
        try:
            overrides["lifecycle_sinks"] = parse_lifecycle_sinks(lifecycle_sinks,
                                                                 "--lifecycle-sink")
        except ValueError as exc:
            usage_error(str(exc))
    if allow_run is not None:
        try:
            overrides["allow_run"] = parse_allow_run(allow_run)
        except ValueError as exc:
            usage_error(f"--allow-run {allow_run!r}: {exc}")
    if allow_hosts is not None:
        try:
            # An empty value is the default policy again (None is "not given").
            overrides["allow_hosts"] = parse_allow_hosts(allow_hosts) or ()
        except ValueError as exc:
            usage_error(str(exc))
    if allow_files is not None:
        overrides["allow_files"] = parse_file_roots(allow_files)
    try:
        options = Settings.from_env(**overrides)
    except ValueError as exc:
        usage_error(str(exc))
    if options.allow_hosts == ():
        return replace(options, allow_hosts=None)
    return options
