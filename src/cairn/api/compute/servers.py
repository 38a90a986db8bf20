"""``/servers``: create, list (summary and detail), show, update, delete."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.compute import shelve
from cairn.api.compute.auth import allowed, authorize, is_admin, metadata, project_of
from cairn.api.compute.boot import boot_request
from cairn.api.compute.common import (
    body_of,
    compute,
    json,
    next_link,
    now,
    page,
    query_bool,
    string,
    v,
    volume_port,
)
from cairn.api.compute.name_filter import name_matcher
from cairn.api.compute.server_fields import access_ips
from cairn.api.compute.unbuilt import refuse_unbuilt_update
from cairn.api.compute.views import (
    VM_STATES_BY_STATUS,
    changed_server,
    listed_server,
    server_detail,
    server_summary,
    status,
)
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute import servers
from cairn.compute.service import Compute
from cairn.compute.sweeper import now_iso
from cairn.events.compute_volumes import unattached_boot_volumes
from cairn.identity.service import Authenticated
from cairn.logs import get_logger
from cairn.projections.compute import Server

log = get_logger(__name__)


def find_server(request: web.Request, who: Authenticated) -> Server:
    """The server in the path, if the caller may see it (else 404)."""
    server_id = request.match_info["server_id"]
    owner = None if is_admin(who) else who.project_id or ""
    return servers.find(compute(request).state, server_id, owner)


def detail(request: web.Request, server: Server, who: Authenticated) -> dict[str, Any]:
    service = compute(request)
    host = service.state.hosts.get(server.host) if server.host else None
    admin = allowed(request, who, "os_compute_api:os-extended-server-attributes",
                    {"project_id": server.project_id})  # fmt: skip
    return server_detail(request, server, v(request), admin=admin, host=host, now=now())


async def create_server(request: web.Request) -> web.Response:
    who = caller(request)
    project_id = project_of(who)
    who = await authorize(request, "os_compute_api:servers:create", {"project_id": project_id})
    body = await _body(request)
    boot, return_reservation = await boot_request(request, body, project_id)
    service = compute(request)
    boot = await _with_ports(service, who, boot)
    made = [n for nics in boot.server_networks.values() for n in nics]
    try:
        ids = await service.boot(metadata(request, who), boot)
    except BaseException:
        await asyncio.shield(_release(service, boot, boot.server_ids))
        raise
    if made:
        await _release(service, boot, [i for i in boot.server_ids if i not in ids])
    if return_reservation:
        return json({"reservation_id": boot.reservation_id}, status=202)
    server_id = ids[0]
    links = [
        {"rel": "self", "href": f"{request.url.origin()}/compute/v2.1/servers/{server_id}"},
        {"rel": "bookmark", "href": f"{request.url.origin()}/compute/servers/{server_id}"},
    ]
    answer: dict[str, Any] = {
        "id": server_id,
        "links": links,
        "OS-DCF:diskConfig": "MANUAL",
    }
    if boot.networks != []:
        answer["security_groups"] = [{"name": n} for n in boot.security_groups or ["default"]]
    return json({"server": answer}, status=202, headers={"Location": links[0]["href"]})


async def _with_ports(service: Compute, who: Authenticated,
                      boot: servers.BootRequest) -> servers.BootRequest:  # fmt: skip
    """``boot`` with each server's NICs made (ports, by the network port)."""
    if boot.networks == []:
        return boot
    made: dict[str, list[dict[str, str]]] = {}
    try:
        for server_id in boot.server_ids:
            made[server_id] = await service.networks.prepare(
                project_id=boot.project_id, user_id=who.user_id, is_admin=is_admin(who),
                server_id=server_id, requested=boot.networks,
                security_groups=boot.security_groups or ["default"],
            )  # fmt: skip
    except BaseException:
        done = dataclasses.replace(boot, server_networks=made)
        await asyncio.shield(_release(service, done, list(made)))
        raise
    return dataclasses.replace(boot, server_networks=made)


async def _release(service: Compute, boot: servers.BootRequest, server_ids: list[str]) -> None:
    """Let go of the ports made for servers that were not created after all."""
    for server_id in server_ids:
        nics = boot.server_networks.get(server_id)
        if nics:
            await service.networks.release(server_id, nics)


async def _body(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("server"), dict):
        raise HTTPFault.bad_request("Invalid input: 'server' is a required property")
    return body


def _changes_since(request: web.Request, key: str) -> str | None:
    raw = request.query.get(key)
    if raw is None:
        return None
    try:
        parsed = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
        if parsed.tzinfo is None:
            return parsed.strftime("%Y-%m-%dT%H:%M:%SZ")
        # in UTC, a time near either end of the calendar falls off it
        return now_iso(parsed.timestamp())
    except (ValueError, OverflowError, OSError):
        raise HTTPFault.bad_request(
            f"Invalid input for query parameters {key}. Value: {raw}. '{raw}' is not a 'date-time'"
        ) from None


def _filtered(request: web.Request, who: Authenticated) -> list[Server]:
    query = request.query
    admin = is_admin(who)
    state = compute(request).state
    all_tenants = query_bool(request, "all_tenants") if "all_tenants" in query else False
    if all_tenants and not allowed(
        request, who, "os_compute_api:servers:index:get_all_tenants", {}
    ):
        raise HTTPFault(403, "Policy doesn't allow os_compute_api:servers:index:get_all_tenants "
                        "to be performed.")  # fmt: skip
    project = query.get("project_id") or query.get("tenant_id") if admin else None
    if not all_tenants and project is None:
        project = project_of(who)
    since = _changes_since(request, "changes-since")
    before = _changes_since(request, "changes-before")
    if since and before and since > before:
        raise HTTPFault.bad_request(
            "The value of changes-since must be less than or equal to changes-before."
        )
    deleted = admin and query_bool(request, "deleted") if "deleted" in query else False
    statuses: set[str] = set()
    for raw in query.getall("status", []):
        wanted = raw.upper()
        if wanted not in VM_STATES_BY_STATUS:
            if v(request) >= (2, 38):
                raise HTTPFault.bad_request(f"Invalid status value: {raw}")
            return []
        statuses.add(wanted)
    name = query.get("name")
    matches = name_matcher(name) if name else None
    image, flavor = query.get("image"), query.get("flavor")
    host = query.get("host") if admin else None
    zone = query.get("availability_zone")
    reservation = query.get("reservation_id")
    key_name = query.get("key_name")
    user = query.get("user_id") if admin or v(request) >= (2, 83) else None
    found = []
    for server in state.servers.values():
        if project is not None and server.project_id != project:
            continue
        if server.deleted and not (since or before or deleted):
            continue
        if deleted and not server.deleted:
            continue
        if since and server.updated_at < since:
            continue
        if before and server.updated_at > before:
            continue
        if statuses and status(server) not in statuses:
            continue
        if matches and not matches(server.name):
            continue
        if image and server.image.image_id != image.rstrip("/").rsplit("/", 1)[-1]:
            continue
        if flavor and server.flavor.flavor_id != flavor.rstrip("/").rsplit("/", 1)[-1]:
            continue
        if host and server.host != host:
            continue
        if zone and (server.host_zone or server.availability_zone) != zone:
            continue
        if reservation and server.reservation_id != reservation:
            continue
        if key_name and server.key_name != key_name:
            continue
        if user and server.user_id != user:
            continue
        found.append(server)
    # Nova's default order: newest first.
    found.sort(key=lambda s: (s.created_at, s.id), reverse=True)
    return found


async def _listing(request: web.Request, *, full: bool) -> web.Response:
    who = caller(request)
    rule = "os_compute_api:servers:detail" if full else "os_compute_api:servers:index"
    await authorize(request, rule, {"project_id": who.project_id})
    chosen, more = page(request, _filtered(request, who), lambda s: s.id)
    views = [
        listed_server(detail(request, s, who)) if full else server_summary(request, s)
        for s in chosen
    ]
    body: dict[str, Any] = {"servers": views}
    if more:
        body["servers_links"] = next_link(
            request, "servers/detail" if full else "servers", chosen[-1].id
        )
    return json(body)


async def list_servers(request: web.Request) -> web.Response:
    return await _listing(request, full=False)


async def list_servers_detail(request: web.Request) -> web.Response:
    return await _listing(request, full=True)


async def show_server(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    await authorize(request, "os_compute_api:servers:show", {"project_id": server.project_id})
    return json({"server": detail(request, server, who)})


async def update_server(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    who = await authorize(
        request, "os_compute_api:servers:update", {"project_id": server.project_id}
    )
    data = await body_of(request, "server")
    allowed_keys = {"name", "accessIPv4", "accessIPv6", "OS-DCF:diskConfig"}
    if v(request) >= (2, 19):
        allowed_keys.add("description")
    if v(request) >= (2, 90):
        allowed_keys.add("hostname")
    unknown = sorted(set(data) - allowed_keys)
    if unknown:
        raise HTTPFault.bad_request(
            f"Invalid input for field/attribute server. Additional properties are not allowed "
            f"({', '.join(repr(k) for k in unknown)} were unexpected)"
        )
    refuse_unbuilt_update(data)
    name = string(data, "name", min_length=1)
    if name is not None and name != name.strip():
        raise HTTPFault.bad_request(
            "Invalid input for field/attribute name. Leading and trailing whitespace is not allowed"
        )
    description = (
        string(data, "description", nullable=True) if "description" in data else server.description
    )
    addresses = access_ips(data, (server.access_ip_v4, server.access_ip_v6))
    meta = metadata(request, who)
    service = compute(request)
    await service.execute(
        lambda s: servers.update(
            s,
            meta,
            servers.find(s, server.id),
            name if name is not None else server.name,
            description,
            addresses,
        )
    )
    changed = detail(request, servers.find(service.state, server.id), who)
    return json({"server": changed_server(changed, v(request))})


async def delete_server(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    who = await authorize(
        request, "os_compute_api:servers:delete", {"project_id": server.project_id}
    )
    service = compute(request)
    if service.config.reclaim_interval > 0 and _keepable(server):
        # Deleted servers are kept for a while (reclaim_instance_interval): the
        # guest stops, and the server waits SOFT_DELETED for a restore or its reclaim.
        meta, admin = metadata(request, who), is_admin(who)
        await service.execute(
            lambda s: servers.action(
                s, meta, servers.find(s, server.id), "soft_delete", is_admin=admin
            )
        )
        return web.Response(status=204)
    await _delete(request, who, server, force=False)
    return web.Response(status=204)


def _keepable(server: Server) -> bool:
    """A server with a guest on a host and nothing under way; any other goes at once."""
    return (
        server.host is not None
        and server.task_state is None
        and server.vm_state in servers.ALLOWED_STATES["soft_delete"]
    )


async def _delete(request: web.Request, who: Authenticated, server: Server, *, force: bool) -> None:
    meta = metadata(request, who)
    admin = is_admin(who)
    service = compute(request)
    await service.execute(
        lambda s: servers.delete(
            s,
            meta,
            servers.find(s, server.id),
            is_admin=admin,
            force=force,
            now=now(),
            deleted_at=now_iso(now()),
        )
    )
    await shelve.after_delete(service, who, server)
    await _delete_unattached_boot_volumes(request, server)


async def _delete_unattached_boot_volumes(request: web.Request, server: Server) -> None:
    """A server deleted here (on no host: a boot that failed or never got one) whose
    boot made or took volumes it never attached: those that were to go with it are
    deleted, as the caller, as Nova's local delete does (the agent does it for a
    server it deletes, ``agents/compute/volume_records.py``)."""
    gone = compute(request).state.servers.get(server.id)
    if gone is None or not gone.deleted:
        return
    entries = unattached_boot_volumes(
        gone.boot_volumes, gone.volumes, spawned=gone.launched_at is not None
    )
    doomed = [e["volume_id"] for e in entries if e.get("delete_on_termination") == "true"]
    if not doomed:
        return
    port, token = volume_port(request), request.headers.get("X-Auth-Token", "")
    for volume_id in doomed:
        try:
            await asyncio.shield(port.delete(token, "volumes", volume_id))
        except Exception as exc:  # left available: the user's to delete
            log.warning("compute.volume_delete_failed", server_id=server.id, error=str(exc))


async def force_delete(request: web.Request, who: Authenticated, server: Server) -> web.Response:
    await authorize(
        request, "os_compute_api:servers:force_delete", {"project_id": server.project_id}
    )
    await _delete(request, who, server, force=True)
    return web.Response(status=202)
