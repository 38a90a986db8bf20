"""``/os-simple-tenant-usage`` and ``/os-instance_usage_audit_log``: usage from the log.

The arithmetic is :mod:`cairn.compute.usage`; this module parses Nova's
query times, shapes the answers and pages the server usages (2.40+).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from cairn.api.compute.auth import authorize
from cairn.api.compute.common import compute, json, next_link, now, page, v
from cairn.api.faults import HTTPFault
from cairn.compute import usage
from cairn.compute.usage import ServerUsage, TenantUsage, naive

_FORMATS = ("%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%d %H:%M:%S.%f")


def _when(raw: str | None, at: datetime) -> datetime:
    if not raw:
        return at
    for form in _FORMATS:
        try:
            return datetime.strptime(raw, form).replace(tzinfo=UTC)
        except ValueError:
            continue
    raise HTTPFault.bad_request("Invalid input: Datetime is in invalid format")


def _period(request: web.Request) -> tuple[datetime, datetime]:
    at = datetime.fromtimestamp(now(), UTC)
    start, stop = _when(request.query.get("start"), at), _when(request.query.get("end"), at)
    if not start < stop:
        raise HTTPFault.bad_request(
            "Invalid start time. The start time cannot occur after the end time."
        )
    return start, min(stop, at)  # no charge for the future


def _server(u: ServerUsage, at: datetime) -> dict[str, Any]:
    server = u.server
    ended = u.ended_at
    return {
        "instance_id": server.id,
        "name": server.name,
        "hours": u.hours,
        "memory_mb": server.flavor.ram_mb,
        "local_gb": u.local_gb,
        "vcpus": server.flavor.vcpus,
        "tenant_id": server.project_id,
        "flavor": server.flavor.name,
        "started_at": naive(u.started_at),
        "ended_at": naive(ended) if ended else None,
        "state": "terminated" if ended else server.vm_state,
        "uptime": int(((ended or at) - u.started_at).total_seconds()),
    }


def _tenant(
    t: TenantUsage, start: datetime, stop: datetime, at: datetime, detailed: bool
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "tenant_id": t.project_id,
        "total_local_gb_usage": t.total("local_gb"),
        "total_vcpus_usage": t.total("vcpus"),
        "total_memory_mb_usage": t.total("memory_mb"),
        "total_hours": t.total_hours,
        "start": naive(start),
        "stop": naive(stop),
    }
    if detailed:
        view["server_usages"] = [_server(u, at) for u in t.servers]
    return view


def _paged(request: web.Request, usages: list[TenantUsage]) -> tuple[list[TenantUsage], str | None]:
    """From 2.40, ``limit`` and ``marker`` page the server usages (the marker is a
    server id); the answer keeps the projects of the servers on the page, and the
    id to continue after when more follow."""
    if v(request) < (2, 40):
        return usages, None
    flat = [(t.project_id, u) for t in usages for u in t.servers]
    chosen, more = page(request, flat, lambda pair: pair[1].server.id)
    paged: dict[str, TenantUsage] = {}
    for project_id, u in chosen:
        paged.setdefault(project_id, TenantUsage(project_id)).servers.append(u)
    return list(paged.values()), chosen[-1][1].server.id if more else None


async def list_usage(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-simple-tenant-usage:list")
    start, stop = _period(request)
    detailed = request.query.get("detailed", "0") == "1"
    at = datetime.fromtimestamp(now(), UTC)
    found, last = _paged(request, usage.tenant_usages(compute(request).state, start, stop))
    body: dict[str, Any] = {"tenant_usages": [_tenant(t, start, stop, at, detailed) for t in found]}
    if last is not None:
        body["tenant_usages_links"] = next_link(request, "os-simple-tenant-usage", last)
    return json(body)


async def show_usage(request: web.Request) -> web.Response:
    project_id = request.match_info["project_id"]
    await authorize(
        request, "os_compute_api:os-simple-tenant-usage:show", {"project_id": project_id}
    )
    start, stop = _period(request)
    at = datetime.fromtimestamp(now(), UTC)
    state = compute(request).state
    found, last = _paged(request, usage.tenant_usages(state, start, stop, project_id))
    body: dict[str, Any] = {
        "tenant_usage": _tenant(found[0], start, stop, at, True) if found else {}
    }
    if last is not None:
        body["tenant_usage_links"] = next_link(
            request, f"os-simple-tenant-usage/{project_id}", last
        )
    return json(body)


# -- the usage audit log -----------------------------------------------------------------


def _audit(request: web.Request, before: datetime) -> dict[str, Any]:
    state = compute(request).state
    begin, end = usage.audit_period(before)
    counts = usage.instances_by_host(state, state.hosts, begin, end)
    log = {
        host: {
            "state": "DONE",
            "instances": n,
            "errors": 0,
            "message": f"Instance usage of host {host} computed from the event log: {n} instances.",
        }
        for host, n in counts.items()
    }
    return {
        "period_beginning": begin.replace(tzinfo=None).isoformat(sep=" "),
        "period_ending": end.replace(tzinfo=None).isoformat(sep=" "),
        "num_hosts": len(counts),
        "num_hosts_done": len(counts),
        "num_hosts_running": 0,
        "num_hosts_not_run": 0,
        "hosts_not_run": [],
        "total_instances": sum(counts.values()),
        "total_errors": 0,
        "overall_status": "ALL hosts done. 0 errors.",
        "log": log,
    }


async def list_audit_logs(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-instance-usage-audit-log:list")
    at = datetime.fromtimestamp(now(), UTC)
    return json({"instance_usage_audit_logs": _audit(request, at)})


async def show_audit_log(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-instance-usage-audit-log:show")
    raw = request.match_info["before"]
    form = "%Y-%m-%d %H:%M:%S.%f" if "." in raw else "%Y-%m-%d %H:%M:%S"
    try:
        before = datetime.strptime(raw, form).replace(tzinfo=UTC)
    except ValueError:
        raise HTTPFault.bad_request(f"Invalid timestamp for date {raw}") from None
    return json({"instance_usage_audit_log": _audit(request, before)})
