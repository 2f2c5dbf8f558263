"""Semantic Versioning 2.0.0 precedence, for "latest" definitions."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?"
)


def key(version: str) -> tuple[Any, ...]:
    """A sort key: precedence per semver.org §11; strings that are not semantic
    versions sort below all that are (the DSL only allows semantic versions)."""
    match = _SEMVER.fullmatch(version)
    if match is None:
        return (0, (), (), version)
    core = tuple(int(part) for part in match.group(1, 2, 3))
    prerelease = match[4]
    if prerelease is None:
        rank: tuple[Any, ...] = (1,)  # a release outranks its pre-releases
    else:
        # numeric identifiers compare as numbers and below alphanumeric ones; a
        # longer list of equal leading identifiers ranks higher (tuple order).
        rank = (
            0,
            tuple(
                (0, int(part), "") if part.isdigit() else (1, 0, part)
                for part in prerelease.split(".")
            ),
        )
    # The text itself breaks ties between versions differing only in build metadata.
    return (1, core, rank, version)


def latest(versions: Iterable[str]) -> str | None:
    return max(versions, key=key, default=None)
