"""``/os-quota-sets`` and ``/limits``: a project's limits and what it uses."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.compute.auth import authorize, metadata, project_of
from cairn.api.compute.common import compute, json, v, whole
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute import quota
from cairn.compute.decide import write
from cairn.events import compute as ev
from cairn.projections.compute import DEFAULT_QUOTA

#: resources Nova stopped showing at 2.57 (injected files)
FILE_RESOURCES = ("injected_files", "injected_file_content_bytes", "injected_file_path_bytes")


def _shown(version: tuple[int, int]) -> tuple[str, ...]:
    if version >= (2, 57):
        return tuple(r for r in quota.RESOURCES if r not in FILE_RESOURCES)
    return quota.RESOURCES


#: Nova showed networking's quotas in its own sets until 2.36
NETWORK_MAX = (2, 35)


def _quota_set(
    request: web.Request,
    project_id: str,
    limits: dict[str, int],
    used: dict[str, int] | None,
    *,
    defaults: bool = False,
) -> dict[str, Any]:
    """The quota set as Nova shows it at the request's microversion; before 2.36 it
    also carries networking's quotas (limit and use from the network port)."""
    rows = {r: (limits[r], (used or {}).get(r, 0)) for r in _shown(v(request))}
    if v(request) <= NETWORK_MAX:
        # the defaults are a project's with no limits of its own and nothing in use
        rows.update(compute(request).networks.quota("" if defaults else project_id))
    body: dict[str, Any] = {"id": project_id}
    for resource, (limit, in_use) in rows.items():
        body[resource] = (
            limit if used is None else {"limit": limit, "in_use": in_use, "reserved": 0}
        )
    return body


async def show_quota_set(request: web.Request) -> web.Response:
    project_id = request.match_info["project_id"]
    await authorize(request, "os_compute_api:os-quota-sets:show", {"project_id": project_id})
    state = compute(request).state
    return json(
        {"quota_set": _quota_set(request, project_id, quota.limits(state, project_id), None)}
    )


async def show_quota_detail(request: web.Request) -> web.Response:
    project_id = request.match_info["project_id"]
    who = await authorize(
        request, "os_compute_api:os-quota-sets:detail", {"project_id": project_id}
    )
    state = compute(request).state
    used = quota.in_use(state, project_id, request.query.get("user_id") or who.user_id)
    return json(
        {"quota_set": _quota_set(request, project_id, quota.limits(state, project_id), used)}
    )


async def show_defaults(request: web.Request) -> web.Response:
    project_id = request.match_info["project_id"]
    await authorize(request, "os_compute_api:os-quota-sets:defaults", {"project_id": project_id})
    return json(
        {
            "quota_set": _quota_set(
                request, project_id, quota.defaults(compute(request).state), None, defaults=True
            )
        }
    )


async def update_quota_set(request: web.Request) -> web.Response:
    project_id = request.match_info["project_id"]
    who = await authorize(
        request, "os_compute_api:os-quota-sets:update", {"project_id": project_id}
    )
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("quota_set"), dict):
        raise HTTPFault.bad_request("Invalid input: 'quota_set' is a required property")
    limits: dict[str, int] = {}
    shown = _shown(v(request))
    for key, value in body["quota_set"].items():
        if key == "force":
            continue
        if key not in shown:
            raise HTTPFault.bad_request(
                "Invalid input for field/attribute quota_set. Additional properties are "
                f"not allowed ('{key}' was unexpected)"
            )
        value = whole(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < -1:
            raise HTTPFault.bad_request(
                f"Invalid input for field/attribute {key}. Value: {value}. "
                "It must be an integer >= -1"
            )
        limits[key] = value
    meta = metadata(request, who)
    service = compute(request)
    event = ev.ComputeQuotaSetUpdated(project_id=project_id, limits=limits)
    await service.execute(
        lambda s: [write(s, quota.quota_set_stream(project_id), [event], meta)] if limits else []
    )
    return json(
        {
            "quota_set": {
                k: val
                for k, val in _quota_set(
                    request, project_id, quota.limits(service.state, project_id), None
                ).items()
                if k != "id"
            }
        }
    )


async def delete_quota_set(request: web.Request) -> web.Response:
    project_id = request.match_info["project_id"]
    who = await authorize(
        request, "os_compute_api:os-quota-sets:delete", {"project_id": project_id}
    )
    meta = metadata(request, who)
    event = ev.ComputeQuotaSetDeleted(project_id=project_id)
    await compute(request).execute(
        lambda s: (
            [write(s, quota.quota_set_stream(project_id), [event], meta)]
            if project_id in s.quota_sets and project_id != DEFAULT_QUOTA
            else []
        )
    )
    return web.Response(status=202)


async def limits(request: web.Request) -> web.Response:
    who = caller(request)
    project_id = request.query.get("tenant_id")
    if project_id and project_id != who.project_id:
        await authorize(request, "os_compute_api:limits:other_project", {"project_id": project_id})
    else:
        await authorize(request, "os_compute_api:limits", {})
        project_id = project_of(who)
    state = compute(request).state
    limit = quota.limits(state, project_id)
    used = quota.in_use(state, project_id, who.user_id)
    absolute: dict[str, int] = {
        "maxServerMeta": limit["metadata_items"],
        "maxTotalInstances": limit["instances"],
        "maxTotalCores": limit["cores"],
        "maxTotalRAMSize": limit["ram"],
        "maxTotalKeypairs": limit["key_pairs"],
        "maxServerGroups": limit["server_groups"],
        "maxServerGroupMembers": limit["server_group_members"],
        "totalInstancesUsed": used["instances"],
        "totalCoresUsed": used["cores"],
        "totalRAMUsed": used["ram"],
        "totalServerGroupsUsed": used["server_groups"],
    }
    if v(request) < (2, 57):
        absolute["maxPersonality"] = limit["injected_files"]
        absolute["maxPersonalitySize"] = limit["injected_file_content_bytes"]
    if v(request) < (2, 39):
        # Nova's image-metadata proxy counted against the same metadata_items quota;
        # 2.39 took the proxy's limit out.
        absolute["maxImageMeta"] = limit["metadata_items"]
    if v(request) < (2, 36):
        absolute.update({
            "maxSecurityGroups": 10, "maxSecurityGroupRules": 20, "maxTotalFloatingIps": 10,
            "totalSecurityGroupsUsed": 0, "totalFloatingIpsUsed": 0,
        })  # fmt: skip
    return json({"limits": {"rate": [], "absolute": absolute}})


# -- quota classes -------------------------------------------------------------------
#
# Nova's quota classes: only the class named "default" has ever had an effect (it
# holds every project's defaults), so it is the one class Cairn has; it is the
# same record as /os-quota-sets/{project}/defaults shows. Networking's quotas,
# which Nova listed here before 2.50, are networking's to change.

#: resources a quota class shows from 2.50 on (server groups arrived, networks left)
GROUP_RESOURCES = ("server_groups", "server_group_members")


def _class_resources(version: tuple[int, int]) -> tuple[str, ...]:
    shown = _shown(version)
    if version < (2, 50):
        shown = tuple(r for r in shown if r not in GROUP_RESOURCES)
    return shown


def _quota_class(request: web.Request, with_id: bool) -> dict[str, Any]:
    defaults = quota.defaults(compute(request).state)
    body: dict[str, Any] = {"id": DEFAULT_QUOTA} if with_id else {}
    body.update({r: defaults[r] for r in _class_resources(v(request))})
    if v(request) < (2, 50):
        body.update({k: limit for k, (limit, _) in compute(request).networks.quota("").items()})
    return body


def _class_name(request: web.Request) -> None:
    name = request.match_info["class_name"]
    if name != DEFAULT_QUOTA:
        raise HTTPFault.not_found(
            f"Quota class {name} could not be found: only the 'default' class exists."
        )


async def show_quota_class(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:os-quota-class-sets:show")
    _class_name(request)
    return json({"quota_class_set": _quota_class(request, with_id=True)})


async def update_quota_class(request: web.Request) -> web.Response:
    who = await authorize(request, "os_compute_api:os-quota-class-sets:update")
    _class_name(request)
    body = await read_json(request)
    if not isinstance(body, dict) or not isinstance(body.get("quota_class_set"), dict):
        raise HTTPFault.bad_request("Invalid input: 'quota_class_set' is a required property")
    allowed = _class_resources(v(request))
    networking = set(compute(request).networks.quota("")) if v(request) < (2, 50) else set()
    limits: dict[str, int] = {}
    for key, value in body["quota_class_set"].items():
        if key in networking:
            raise HTTPFault.bad_request(
                f"Quota {key} belongs to the networking service: set it there."
            )
        if key not in allowed:
            raise HTTPFault.bad_request(
                "Invalid input for field/attribute quota_class_set. Additional properties are "
                f"not allowed ('{key}' was unexpected)"
            )
        number = whole(value)
        if isinstance(number, bool) or not isinstance(number, int) or number < -1:
            raise HTTPFault.bad_request(
                f"Invalid input for field/attribute {key}. Value: {value}. "
                "It must be an integer >= -1"
            )
        limits[key] = number
    meta = metadata(request, who)
    service = compute(request)
    event = ev.ComputeQuotaSetUpdated(project_id=DEFAULT_QUOTA, limits=limits)
    await service.execute(
        lambda s: [write(s, quota.quota_set_stream(DEFAULT_QUOTA), [event], meta)] if limits else []
    )
    return json({"quota_class_set": _quota_class(request, with_id=False)})
