"""The egress policy: which hosts calls may reach, and which local files
resources may be read from (README "Egress policy").

Hosts. Without a setting, every host may be reached except link-local and cloud
metadata addresses (169.254.0.0/16 with 169.254.169.254, fe80::/10,
fd00:ec2::254, ``metadata.google.internal``): from a cloud machine those hand out
the machine's own credentials to whoever asks. With ``--allow-hosts`` /
``PODIUM_ALLOW_HOSTS`` (comma-separated patterns) only matching hosts may be
reached:

- a host name or glob, ``api.example.com``, ``*.example.com`` (``*`` matches
  any characters, dots included; ``*`` alone matches every name);
- an IP address or a CIDR block, ``10.1.2.3``, ``10.0.0.0/8``, ``[fd00::1]``,
  ``fd00::/8``;
- either with ``:port`` to allow that port only (``*.example.com:443``,
  ``[fd00::1]:8443``; an IPv6 address takes brackets to carry a port).

What is checked is every address the host resolves to: a name that resolves to
a denied address is denied. A default-denied address stays denied under a glob
(``*``, ``*.example.com``); only a rule that names it allows it: its IP, a CIDR
block containing it, or the exact host name.

Every outbound connection is checked: HTTP calls (http, openapi, a2a, mcp over
HTTP, resources, OAuth2/OIDC token and discovery endpoints; each redirect hop
too, through a request hook on the HTTP client), gRPC, and AsyncAPI brokers
(NATS, AMQP, MQTT). What remains: the check resolves the name, then the client
resolves it again to connect; a DNS server that answers differently the second
time (DNS rebinding) can steer that connection elsewhere. Names an attacker's
DNS serves should not be allowed by a glob; IP rules are not affected.

Files. ``file://`` and relative resources are read only from the workflow's own
directory tree (the directory of its file; for a document given as text, the
current directory), the default catalog's directory, and the directories the
operator allows with ``--allow-files`` / ``PODIUM_ALLOW_FILES``. Symbolic links
are resolved before the check, and the resolved path is what is read.

A refusal is the authorization error (403) naming the host or path and the rule.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from fnmatch import fnmatchcase
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

from podium.errors import AUTHORIZATION, WorkflowError

if TYPE_CHECKING:
    import httpx

    from podium.config import Settings

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

# Denied unless a rule names them (see the module docstring).
_METADATA = "cloud metadata"
_LINK_LOCAL = "link-local"
DEFAULT_DENIED: tuple[tuple[Network, str], ...] = (
    (ipaddress.ip_network("169.254.169.254/32"), _METADATA),
    (ipaddress.ip_network("fd00:ec2::254/128"), _METADATA),
    (ipaddress.ip_network("169.254.0.0/16"), _LINK_LOCAL),
    (ipaddress.ip_network("fe80::/10"), _LINK_LOCAL),
)
DENIED_NAMES = {"metadata.google.internal": _METADATA}

_HOW_HOSTS = "--allow-hosts (or PODIUM_ALLOW_HOSTS)"
_HOW_FILES = "--allow-files DIR (or PODIUM_ALLOW_FILES)"
_NAME_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._*?")
_DEFAULT_PORTS = {"http": 80, "https": 443, "ws": 80, "wss": 443}


class EgressDenied(WorkflowError):
    """A connection or a file the egress policy refuses."""

    def __init__(self, detail: str, instance: str | None = None) -> None:
        super().__init__(AUTHORIZATION, detail=detail, instance=instance)


# --- hosts ---------------------------------------------------------------------------


@dataclass(frozen=True)
class HostRule:
    """One ``--allow-hosts`` pattern."""

    text: str
    network: Network | None = None  # an IP or a CIDR block
    glob: str | None = None  # a lower-case host name pattern
    port: int | None = None

    @classmethod
    def parse(cls, text: str) -> HostRule:
        """A pattern; ``ValueError`` names what is wrong with it."""
        pattern = text.strip()
        body, port = _split_port(pattern)
        if body.startswith("[") and body.endswith("]"):
            body = body[1:-1]
        try:
            return cls(pattern, network=ipaddress.ip_network(body, strict=False), port=port)
        except ValueError:
            pass
        name = body.lower().rstrip(".")
        if not name or not set(name) <= _NAME_CHARACTERS or ":" in name:
            raise ValueError(
                f"'{pattern}' is not a host name, glob (*.example.com), IP address or CIDR "
                "block, with an optional :port"
            )
        return cls(pattern, glob=name, port=port)

    @property
    def explicit(self) -> bool:
        """A rule that names what it allows: an address rule, or a name without wildcards."""
        return self.network is not None or not any(c in self.glob for c in "*?")  # type: ignore[operator]

    def allows_port(self, port: int) -> bool:
        return self.port is None or self.port == port

    def matches_name(self, host: str, port: int) -> bool:
        return self.glob is not None and self.allows_port(port) and fnmatchcase(host, self.glob)

    def matches_address(self, address: Address, port: int) -> bool:
        return (
            self.network is not None and self.allows_port(port)
            and address.version == self.network.version and address in self.network
        )


def _split_port(pattern: str) -> tuple[str, int | None]:
    head, colon, tail = pattern.rpartition(":")
    # An IPv6 address has colons of its own: its port needs brackets ([::1]:80).
    if not colon or not tail.isdigit() or (":" in head and not head.endswith("]")):
        return pattern, None
    port = int(tail)
    if not 0 < port < 65536:
        raise ValueError(f"'{pattern}': port {port} is not between 1 and 65535")
    return head, port


def parse_host_patterns(text: str) -> tuple[str, ...] | None:
    """``--allow-hosts`` text as patterns (validated); ``None`` (the default policy)
    when empty."""
    patterns = tuple(part.strip() for part in text.split(",") if part.strip())
    for pattern in patterns:
        HostRule.parse(pattern)
    return patterns or None


def default_denied(address: Address) -> str | None:
    """Why ``address`` is denied by default (``link-local``, ``cloud metadata``), if it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    for network, reason in DEFAULT_DENIED:
        if address.version == network.version and address in network:
            return reason
    return None


@dataclass(frozen=True)
class HostPolicy:
    """``rules`` None: the default policy; else only what the rules allow."""

    rules: tuple[HostRule, ...] | None = None

    def refusal(self, host: str, port: int, addresses: Iterable[Address]) -> str | None:
        """Why connecting to ``host:port`` (resolving to ``addresses``) is refused;
        None when it is allowed."""
        name = host.lower().rstrip(".").strip("[]")
        found = list(addresses)
        if self.rules is None:
            if name in DENIED_NAMES:
                return _denied(host, None, DENIED_NAMES[name])
            for address in found:
                reason = default_denied(address)
                if reason is not None:
                    return _denied(host, address, reason)
            return None
        by_name = [rule for rule in self.rules if rule.matches_name(name, port)]
        named = any(rule.explicit for rule in by_name)
        if not found:
            # Not resolvable (the connection will fail anyway) or not resolved.
            return None if by_name else self._not_allowed(host, port)
        for address in found:
            if any(rule.matches_address(address, port) for rule in self.rules):
                continue
            reason = default_denied(address)
            if by_name and (named or reason is None):
                continue
            if by_name and reason is not None:
                return (
                    f"host {_shown(host, address)} matches '{by_name[0].text}', but "
                    f"{address} is {reason}, which only a rule naming it allows; allow it "
                    f"with {_HOW_HOSTS}"
                )
            return self._not_allowed(host, port, address)
        return None

    def _not_allowed(self, host: str, port: int, address: Address | None = None) -> str:
        rules = ", ".join(rule.text for rule in self.rules or ())
        return (
            f"host {_shown(host, address)} (port {port}) is not allowed by the egress policy "
            f"({rules}); allow it with {_HOW_HOSTS}"
        )


def _shown(host: str, address: Address | None) -> str:
    if address is None or str(address) == host.strip("[]"):
        return host
    return f"{host} ({address})"


def _denied(host: str, address: Address | None, reason: str) -> str:
    return (
        f"host {_shown(host, address)} is denied by the default egress policy ({reason}); "
        f"allow it with {_HOW_HOSTS}"
    )


@lru_cache(maxsize=64)
def _host_policy(patterns: tuple[str, ...] | None) -> HostPolicy:
    if patterns is None:
        return HostPolicy()
    return HostPolicy(tuple(HostRule.parse(pattern) for pattern in patterns))


def host_policy(settings: Settings) -> HostPolicy:
    return _host_policy(settings.allow_hosts)


async def resolve(host: str, port: int) -> list[Address]:
    """The addresses ``host`` resolves to (itself when it is an address); none
    when it does not resolve (the connection then fails on its own)."""
    bare = host.strip("[]")
    try:
        return [ipaddress.ip_address(bare)]
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(
            bare, port, type=socket.SOCK_STREAM
        )
    except (OSError, UnicodeError):
        return []
    found: list[Address] = []
    for info in infos:
        text = str(info[4][0]).partition("%")[0]  # an IPv6 scope id
        try:
            address = ipaddress.ip_address(text)
        except ValueError:
            continue
        if address not in found:
            found.append(address)
    return found


async def check_host(host: str, port: int, settings: Settings, where: str | None = None) -> None:
    """Refuse (``EgressDenied``) a connection the policy does not allow."""
    policy = host_policy(settings)
    refusal = policy.refusal(host, port, await resolve(host, port))
    if refusal is not None:
        raise EgressDenied(refusal, where)


async def check_url(url: str, settings: Settings, where: str | None = None) -> None:
    import httpx

    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return  # the client refuses it with its own message
    if parsed.host:
        port = parsed.port or _DEFAULT_PORTS.get(parsed.scheme, 443)
        await check_host(parsed.host, port, settings, where)


def guard(client: httpx.AsyncClient | Any, settings: Settings) -> None:
    """Check every request ``client`` sends, redirect hops included (an httpx
    request hook; also fits httpx2 clients)."""

    async def check(request: Any) -> None:
        await check_url(str(request.url), settings)

    check.podium_egress = True  # type: ignore[attr-defined]
    hooks = client.event_hooks
    # A client shared by several runtimes follows the policy of the last one.
    kept = [hook for hook in hooks.get("request", []) if not getattr(hook, "podium_egress", 0)]
    hooks["request"] = [*kept, check]
    client.event_hooks = hooks


# --- files ---------------------------------------------------------------------------


def parse_file_roots(text: str) -> tuple[Path, ...]:
    """``--allow-files`` text (comma-separated directories)."""
    return tuple(Path(part.strip()).expanduser() for part in text.split(",") if part.strip())


def workflow_directory(source: str | None) -> Path:
    """The directory a document's relative references are read from: its file's,
    or the current directory for a document given as text."""
    if source and Path(source).is_file():
        return Path(source).parent
    return Path.cwd()


def _local_directory(location: str | None) -> Path | None:
    """The directory a default catalog setting names, when it is local."""
    if not location:
        return None
    parsed = urlparse(location)
    if parsed.scheme == "":
        return Path(location).expanduser().resolve()
    if parsed.scheme == "file":
        return Path(parsed.netloc + parsed.path if parsed.netloc not in ("", "localhost")
                    else parsed.path).resolve()
    return None


def readable_file(path: Path, source: str | None, settings: Settings,
                  where: str | None = None) -> Path:
    """``path`` with symbolic links resolved, if the policy lets it be read;
    ``EgressDenied`` otherwise. A relative path is relative to the workflow."""
    home = workflow_directory(source)
    target = (path if path.is_absolute() else home / path).resolve()
    roots = [home.resolve(), *(root.resolve() for root in settings.allow_files)]
    catalog = _local_directory(settings.default_catalog)
    if catalog is not None:  # the operator's own setting
        roots.append(catalog)
    if any(target.is_relative_to(root) for root in roots):
        return target
    raise EgressDenied(
        f"file {target} is outside the workflow's directory {roots[0]}"
        + (f" and the allowed directories ({', '.join(str(r) for r in roots[1:])})"
           if len(roots) > 1 else "")
        + f"; allow its directory with {_HOW_FILES}",
        where,
    )
