"""``GET /os-migrations`` and ``/servers/{id}/migrations``: Nova's migration records.

Every resize and cold migration is a record (:class:`~cairn.projections.compute_state.Migration`)
folded from its server's stream. Shapes by microversion, as Nova's view:
``migration_type`` and ``links`` from 2.23, ``uuid`` and paging (``limit``,
``marker``: a migration uuid) and ``changes-since`` from 2.59,
``changes-before`` from 2.66, ``user_id`` and ``project_id`` (and filters on
them) from 2.80. Newest first. ``/servers/{id}/migrations`` lists a server's
live migrations in progress (2.23+): Cairn has none, so it is empty for any
server the caller may see.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from cairn.api.compute.auth import authorize
from cairn.api.compute.common import compute, json, next_link, page, v
from cairn.api.compute.servers import find_server
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.projections.compute import ComputeState
from cairn.projections.compute_state import Migration


def _time(iso: str) -> str:
    """Nova's migration times: ``2026-12-03T10:00:00.000000``."""
    return iso.removesuffix("Z") + ".000000"


def _flavor_id(flavor_id: str) -> int | str:
    # Nova shows the flavor's integer database id; Cairn's flavors are named by
    # their flavor id, an integer for the default ones.
    return int(flavor_id) if flavor_id.isdigit() else flavor_id


def _view(state: ComputeState, m: Migration, version: tuple[int, int]) -> dict[str, Any]:
    dest = state.hosts.get(m.dest_host)
    view: dict[str, Any] = {
        "id": m.id,
        "instance_uuid": m.server_id,
        "status": m.status,
        "source_compute": m.source_host,
        "source_node": m.source_host,
        "dest_compute": m.dest_host,
        "dest_node": m.dest_host,
        "dest_host": dest.host_ip if dest is not None else "",
        "old_instance_type_id": _flavor_id(m.old_flavor.flavor_id),
        "new_instance_type_id": _flavor_id(m.new_flavor.flavor_id),
        "created_at": _time(m.created_at),
        "updated_at": _time(m.updated_at),
    }
    if version >= (2, 23):
        view["migration_type"] = m.migration_type
    if version >= (2, 59):
        view["uuid"] = m.uuid
    if version >= (2, 80):
        view["user_id"] = m.user_id
        view["project_id"] = m.project_id
    return view


def _since(request: web.Request, key: str) -> datetime | None:
    raw = request.query.get(key)
    if raw is None:
        return None
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        raise HTTPFault.bad_request(f"Invalid input for query parameters {key}.") from None


def _updated(m: Migration) -> datetime:
    return datetime.fromisoformat(m.updated_at.removesuffix("Z"))


async def list_migrations(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-migrations:index", {})
    version, state, query = v(request), compute(request).state, request.query
    found = list(reversed(state.migrations.values()))
    host = query.get("host")
    if host:
        found = [m for m in found if host in (m.source_host, m.dest_host)]
    for key, attribute in (
        ("status", "status"),
        ("instance_uuid", "server_id"),
        ("source_compute", "source_host"),
    ):
        if query.get(key):
            found = [m for m in found if getattr(m, attribute) == query[key]]
    if query.get("migration_type"):
        found = [m for m in found if m.migration_type == query["migration_type"]]
    if version >= (2, 59):
        since = _since(request, "changes-since")
        if since is not None:
            found = [m for m in found if _updated(m) >= since]
    if version >= (2, 66):
        before = _since(request, "changes-before")
        if before is not None:
            found = [m for m in found if _updated(m) <= before]
    if version >= (2, 80):
        for key in ("user_id", "project_id"):
            if query.get(key):
                found = [m for m in found if getattr(m, key) == query[key]]
    body: dict[str, Any] = {}
    if version >= (2, 59):
        try:
            found, more = page(request, found, lambda m: m.uuid)
        except HTTPFault as fault:
            if "marker" in request.query and fault.status == 400:
                raise HTTPFault.bad_request(
                    f"Marker {request.query['marker']} could not be found."
                ) from None
            raise
        if more and found:
            body["migrations_links"] = next_link(request, "os-migrations", found[-1].uuid)
    body["migrations"] = [_view(state, m, version) for m in found]
    return json(body)


async def list_server_migrations(request: web.Request) -> web.Response:
    if v(request) < (2, 23):
        raise HTTPFault.not_found("The resource could not be found.")
    who = caller(request)
    server = find_server(request, who)
    await authorize(
        request, "os_compute_api:servers:migrations:index", {"project_id": server.project_id}
    )
    return json({"migrations": []})  # no live migrations in progress: none are built


async def show_server_migration(request: web.Request) -> web.Response:
    if v(request) < (2, 23):
        raise HTTPFault.not_found("The resource could not be found.")
    who = caller(request)
    server = find_server(request, who)
    await authorize(
        request, "os_compute_api:servers:migrations:show", {"project_id": server.project_id}
    )
    migration_id = request.match_info["migration_id"]
    raise HTTPFault.not_found(
        f"In-progress live migration {migration_id} is not found for server {server.id}."
    )
