"""Operator settings: one object, from flags > environment (``PODIUM_*``) > defaults.

Security by default: no ``run`` process kind is allowed unless the operator
names it (``PODIUM_ALLOW_RUN=shell,script``)."""

from __future__ import annotations

import importlib.util
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from podium.egress import parse_file_roots, parse_host_patterns
from podium.limits import EXPRESSION_TIMEOUT_SECONDS

RUN_KINDS = ("shell", "script", "container")

# Lifecycle sinks (podium.events.sinks): the URLs the operator may give.
NATS_PREFIX = "podium.lifecycle"
_SINK_SCHEMES = ("http", "https", "nats")
# What a subject token cannot hold: separators aside, wildcards, whitespace, controls.
BAD_SUBJECT = re.compile(r"[\s*>\x00-\x1f\x7f]|^\.|\.$|\.\.")


@dataclass(frozen=True)
class Settings:
    # Process kinds `run` may start (dsl-reference "Run"): a subset of RUN_KINDS.
    allow_run: frozenset[str] = frozenset()
    # Secrets from environment variables with this prefix (PODIUM_SECRET_<NAME>).
    secrets_env_prefix: str | None = None
    # Secrets from a YAML/JSON file (name -> value) or a directory (one file per name).
    secrets_path: Path | None = None
    # The `default` catalog (dsl.md "Default Catalog"): a directory or a URL.
    default_catalog: str | None = None
    # The container engine CLI for `run: container`: a path, or a name looked up
    # on PATH. None: podman, else docker, whichever PATH has.
    container_engine: str | None = None
    # Seconds an unbounded runtime expression may run in the sandbox (README
    # "Limits"); PODIUM_EXPRESSION_TIMEOUT.
    expression_timeout: float = EXPRESSION_TIMEOUT_SECONDS
    # Hosts calls may reach (podium.egress): None is the default policy (all but
    # link-local and cloud metadata addresses); else host globs, IPs, CIDRs.
    allow_hosts: tuple[str, ...] | None = None
    # Directories file resources may be read from, besides the workflow's own.
    allow_files: tuple[Path, ...] = ()
    # The event bus between processes (podium.events.nats): a NATS server URL,
    # nats://host:4222 (PODIUM_EVENTS, `podium worker --events`); None: the store only.
    events: str | None = None
    # Where lifecycle events go besides in-process listeners (podium.events.sinks):
    # http(s):// endpoints and nats:// servers; PODIUM_LIFECYCLE_SINK, comma-separated.
    lifecycle_sinks: tuple[str, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        env = os.environ if environ is None else environ
        try:
            allow_run = parse_allow_run(env.get("PODIUM_ALLOW_RUN", ""))
        except ValueError as exc:
            raise ValueError(f"PODIUM_ALLOW_RUN: {exc}") from None
        settings = cls(
            allow_run=allow_run,
            secrets_env_prefix=env.get("PODIUM_SECRETS_ENV_PREFIX") or None,
            secrets_path=Path(env["PODIUM_SECRETS_PATH"]) if env.get("PODIUM_SECRETS_PATH")
            else None,
            default_catalog=env.get("PODIUM_DEFAULT_CATALOG") or None,
            container_engine=env.get("PODIUM_CONTAINER_ENGINE") or None,
            expression_timeout=parse_seconds(
                env.get("PODIUM_EXPRESSION_TIMEOUT"), EXPRESSION_TIMEOUT_SECONDS,
                "PODIUM_EXPRESSION_TIMEOUT",
            ),
            allow_hosts=parse_allow_hosts(env.get("PODIUM_ALLOW_HOSTS", ""),
                                          "PODIUM_ALLOW_HOSTS"),
            allow_files=parse_file_roots(env.get("PODIUM_ALLOW_FILES", "")),
            events=parse_events_url(env.get("PODIUM_EVENTS", ""), "PODIUM_EVENTS"),
            lifecycle_sinks=parse_lifecycle_sinks(
                env.get("PODIUM_LIFECYCLE_SINK", "").split(","), "PODIUM_LIFECYCLE_SINK"
            ),
        )
        given = {k: v for k, v in overrides.items() if v is not None}
        return replace(settings, **given)


def parse_allow_run(text: str) -> frozenset[str]:
    """``shell,script`` -> the set; ``all`` allows every kind; unknown names are refused."""
    names = {part.strip().lower() for part in text.split(",") if part.strip()}
    if "all" in names:
        return frozenset(RUN_KINDS)
    unknown = sorted(names - set(RUN_KINDS))
    if unknown:
        raise ValueError(
            f"unknown run kind(s) {', '.join(unknown)}: use {', '.join(RUN_KINDS)} or all"
        )
    return frozenset(names)


EVENTS_SCHEMES = ("nats", "tls", "ws", "wss")


def parse_events_url(text: str, option: str = "--events") -> str | None:
    """The event bus URL (``nats://host:4222``, several comma-separated for a
    cluster); ``None`` when empty. Anything else is a ``ValueError`` naming ``option``."""
    value = text.strip()
    if not value:
        return None
    for server in value.split(","):
        scheme, _, rest = server.strip().partition("://")
        if scheme.lower() not in EVENTS_SCHEMES or not rest:
            raise ValueError(f"{option}: {server.strip()!r} is not a NATS URL "
                             "(nats://host:4222)")
    return value


def parse_seconds(text: str | None, default: float, name: str) -> float:
    """A positive number of seconds from the environment (unset: ``default``)."""
    if text is None or not text.strip():
        return default
    try:
        seconds = float(text)
    except ValueError:
        raise ValueError(f"{name}: {text!r} is not a number of seconds") from None
    if not 0 < seconds <= 86400:
        raise ValueError(f"{name}: {text!r} must be more than 0 and at most 86400 seconds")
    return seconds
def parse_allow_hosts(text: str, option: str = "--allow-hosts") -> tuple[str, ...] | None:
    """Host patterns (see ``podium.egress``); ``None`` when empty (the default
    policy). A bad pattern is a ``ValueError`` naming ``option``."""
    try:
        return parse_host_patterns(text)
    except ValueError as exc:
        raise ValueError(f"{option}: {exc}") from None


def parse_lifecycle_sinks(urls: Iterable[str], option: str) -> tuple[str, ...]:
    """Sink URLs (empty ones ignored), each checked; a bad one is a ``ValueError``
    naming ``option``."""
    sinks = []
    for url in urls:
        if url.strip():
            try:
                sinks.append(check_sink_url(url.strip()))
            except ValueError as exc:
                raise ValueError(f"{option}: {exc}") from None
    return tuple(sinks)


def check_sink_url(url: str) -> str:
    """``url`` if it names a sink this runtime can use; else a ``ValueError``
    saying what would (the caller names the option or variable)."""
    parts = _split(url)
    if parts.scheme == "nats":
        nats_prefix(parts.path)
        if importlib.util.find_spec("nats") is None:
            raise ValueError(f"{display_url(url)}: NATS sinks need nats-py: "
                             "pip install 'podium[nats]'")
    return url


def _split(url: str) -> Any:
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - a port that is not a number raises here
    except ValueError as exc:
        raise ValueError(f"{url!r} is not a URL ({exc})") from None
    if parts.scheme not in _SINK_SCHEMES or not parts.hostname:
        raise ValueError(
            f"{display_url(url)!r} is not a lifecycle sink: use http://host/path, "
            "https://host/path or nats://host:port[/subject-prefix]"
        )
    return parts


def display_url(url: str) -> str:
    """``url`` with its password (if any) shown as ``***``."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
        netloc = parts.netloc.rpartition("@")
        user = (parts.username or "") + ":***"
        return urlunsplit(parts._replace(netloc=f"{user}@{netloc[2]}"))
    except ValueError:
        return "<a URL that cannot be parsed>"


def nats_prefix(path: str) -> str:
    prefix = path.strip("/") or NATS_PREFIX
    if BAD_SUBJECT.search(prefix) or "/" in prefix:
        raise ValueError(
            f"nats subject prefix {prefix!r}: use dot-separated tokens without "
            "wildcards or spaces (e.g. nats://host:4222/podium.lifecycle)"
        )
    return prefix
