"""The instances list's filters, from a query string (or a form repeating it):
the store's ``InstanceQuery``, the filters to show and keep in links, and the
query string of the API's live stream of the same instances."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from urllib.parse import urlencode

from podium.engine.lifecycle import utc_iso
from podium.server.dashboard.overview import WINDOWS
from podium.store import InstanceQuery, parse_cursor

PAGE = 50
# Instances one bulk action acts on at most (the API's default too).
BULK_LIMIT = 1000
STATUSES = ("pending", "running", "waiting", "suspended", "completed", "faulted", "cancelled")
# What the list offers to do to the ticked instances, by the status it shows.
BULK = {
    "": ("retry", "suspend", "resume", "cancel"),
    "pending": ("suspend", "cancel"), "running": ("suspend", "cancel"),
    "waiting": ("suspend", "cancel"), "suspended": ("resume", "cancel"),
    "faulted": ("retry",), "completed": (), "cancelled": (),
}


@dataclass(frozen=True)
class Listing:
    query: InstanceQuery
    filters: dict[str, str]  # status, workflow, q, since ("" when not set)

    @property
    def kept(self) -> dict[str, str]:
        """The filters set, for links that keep them."""
        return {key: value for key, value in self.filters.items() if value}

    @property
    def bulk(self) -> tuple[str, ...]:
        return BULK[self.filters["status"]]

    def stream(self) -> str:
        """The API's live stream of the instances this listing shows."""
        query = self.query
        params = {"status": query.status, "q": query.search,
                  "workflow": f"{query.namespace}/{query.name}" if query.name else None,
                  "created_after": utc_iso(query.created_after) if query.created_after
                  else None}
        shown = {key: value for key, value in params.items() if value}
        return "/api/v1/instances/stream" + (f"?{urlencode(shown)}" if shown else "")


def listing(params: Mapping[str, str], limit: int = PAGE) -> Listing:
    """What a list's query string (or a bulk form repeating it) asks for."""
    status = params.get("status", "")
    workflow = params.get("workflow", "")
    search = params.get("q", "").strip()
    since = params.get("since", "")
    namespace, _, name = workflow.partition("/")
    try:
        after = parse_cursor(params["cursor"]) if params.get("cursor") else None
    except ValueError:
        after = None
    period = WINDOWS.get(since)
    query = InstanceQuery(
        status=status if status in STATUSES else None,
        namespace=namespace or None, name=name or None, search=search or None,
        created_after=datetime.now(UTC) - period if period else None,
        after=after, limit=limit)
    filters = {"status": query.status or "", "workflow": workflow if name else "",
               "q": search, "since": since if period else ""}
    return Listing(query, filters)


def every(found: Listing, limit: int) -> InstanceQuery:
    """The listing's query from its first instance on, up to ``limit`` of them."""
    return replace(found.query, after=None, limit=limit)
