"""``GET /events/v1/resources/{kind}/{id}/history``: every event of one resource.

The resource is the stream ``<kind>-<id>`` (``server-<uuid>``, ``user-<id>``).
Each event is the same document the stream delivers (:mod:`cairn.stream.item`):
what (``type``, ``data``, secrets withheld), when (``recorded_at``,
``position``) and who (``metadata``: user, project, request id).

Authorization follows the stream's: an admin reads any history; a project
reader reads the histories of its project's resources, a resource belonging
to the projects its first event names (:func:`cairn.stream.event_projects`),
and of those only the events that belong to its projects: an event whose
payload names another project is left out, one whose payload names none is
the resource's. Any other resource is a 404, as if it did not exist. Long histories are paged
with ``limit`` (default 1000) and ``marker`` (the last stream version seen),
with a ``next`` link while more remain.
"""

from __future__ import annotations

import re
from collections.abc import Set

import msgspec
from aiohttp import web

from cairn.api.events.access import caller, visible_projects
from cairn.api.faults import HTTPFault
from cairn.api.keys import STORE
from cairn.events import RecordedEvent
from cairn.stream.item import event_projects, make_item, payload_project

DEFAULT_LIMIT = 1000
MAX_LIMIT = 10_000
_KIND = re.compile(r"^[A-Za-z0-9_.]{1,64}$")
_encoder = msgspec.json.Encoder()


async def history(request: web.Request) -> web.Response:
    who = caller(request)
    kind, ident = request.match_info["kind"], request.match_info["id"]
    if not _KIND.match(kind):
        raise HTTPFault.bad_request("Invalid kind: letters, digits, '_' and '.' only.")
    if not ident or len(ident) > 255:
        raise HTTPFault.bad_request("Invalid id.")
    limit = _int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
    marker = _int_param(request, "marker", 0, 0, 2**62)
    visible = await visible_projects(request, who, None)
    store = request.config_dict[STORE]
    stream = f"{kind}-{ident}"
    first = await store.read_stream(stream, limit=1)
    not_found = HTTPFault.not_found(f"No history for {kind} {ident}.")
    if not first:
        raise not_found
    owners = event_projects(first[0])
    if visible is not None and not any(p in visible for p in owners):
        raise not_found
    events = await store.read_stream(stream, from_version=marker + 1, limit=limit + 1)
    more = len(events) > limit
    events = events[:limit]
    if visible is not None:
        events = [e for e in events if _belongs(e, owners, visible)]
    resource = {"kind": kind, "id": ident, "stream": stream, "project_ids": list(owners)}
    links = []
    if more and events:
        url = request.url.with_query({"limit": str(limit), "marker": str(events[-1].version)})
        links.append({"rel": "next", "href": str(url)})
    body = b'{"resource":%b,"events":[%b],"links":%b}' % (
        _encoder.encode(resource),
        b",".join(make_item(event).json for event in events),
        _encoder.encode(links),
    )
    return web.Response(body=body, content_type="application/json")


def _belongs(event: RecordedEvent, owners: tuple[str, ...], visible: Set[str]) -> bool:
    """Whether a reader of ``visible`` projects may see this event of a
    resource owned by ``owners``: its payload's project, else the resource's."""
    project = payload_project(event)
    return project in visible if project is not None else any(p in visible for p in owners)


def _int_param(request: web.Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not raw.isdecimal() or not raw.isascii() or not low <= int(raw) <= high:
        raise HTTPFault.bad_request(f"Invalid {name}: a whole number from {low} to {high}.")
    return int(raw)
