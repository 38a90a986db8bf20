"""``/v3/os-quota-sets``: a project's block storage limits, their defaults and
usage; admins set and reset them. Per-type quotas are shown for the default
type (``volumes___DEFAULT__``, ...), following the project-wide ones."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.faults import HTTPFault
from cairn.api.volume.common import bad, body_of, boolean, caller, metadata, volumes
from cairn.projections.volume import VolumeState
from cairn.volume import quota
from cairn.volume.access import Caller
from cairn.volume.writes import Writes

PER_TYPE = ("volumes", "gigabytes", "snapshots")


def _project(request: web.Request, who: Caller) -> str:
    project = request.match_info["target"]
    if project != who.project_id and not who.is_admin:
        raise HTTPFault(403, "Policy doesn't allow volume_extension:quotas:show to be performed.")
    return project


def _document(state: VolumeState, defaults: dict[str, int], project: str | None) -> dict[str, int]:
    """A project's limits (``None``: the defaults every project starts from)."""
    if project is None:
        limits = quota.defaults_of(state, defaults)
    else:
        limits = quota.limits(state, defaults, project)
    shown = {
        key: limits[key]
        for key in (
            "volumes",
            "snapshots",
            "gigabytes",
            "backups",
            "backup_gigabytes",
            "groups",
            "per_volume_gigabytes",
        )
    }
    # Cinder's per-type quotas: one of each for every volume type
    for volume_type in sorted(t.name for t in state.types.values()):
        for key in PER_TYPE:
            shown[f"{key}_{volume_type}"] = limits.get(f"{key}_{volume_type}", -1)
    return shown


def _usage(state: VolumeState, project: str) -> dict[str, int]:
    used = quota.usage(state, project)
    backups, backup_gigabytes = quota.backup_usage(state, project)
    found = {
        "volumes": used.volumes,
        "gigabytes": used.gigabytes,
        "snapshots": used.snapshots,
        "backups": backups,
        "backup_gigabytes": backup_gigabytes,
    }
    for volume_type in {t.name for t in state.types.values()}:
        typed = quota.usage(state, project, volume_type)
        found[f"volumes_{volume_type}"] = typed.volumes
        found[f"gigabytes_{volume_type}"] = typed.gigabytes
        found[f"snapshots_{volume_type}"] = typed.snapshots
    return found


async def show(request: web.Request) -> web.Response:
    who = caller(request)
    project = _project(request, who)
    service = volumes(request)
    shown: dict[str, Any] = _document(service.state, service.config.quotas, project)
    if boolean(request.query.get("usage", "false"), "usage"):
        used = _usage(service.state, project)
        shown = {
            key: {"limit": limit, "in_use": used.get(key, 0), "reserved": 0, "allocated": 0}
            for key, limit in shown.items()
        }
    return web.json_response({"quota_set": {"id": project, **shown}})


async def defaults(request: web.Request) -> web.Response:
    caller(request)
    project = request.match_info["target"]
    service = volumes(request)
    shown = _document(service.state, service.config.quotas, None)
    return web.json_response({"quota_set": {"id": project, **shown}})


async def update(request: web.Request) -> web.Response:
    who = caller(request, admin=True)
    project = request.match_info["target"]
    body = await body_of(request, "quota_set")
    service = volumes(request)
    changes = _changes(body, set(_document(service.state, service.config.quotas, None)))
    del who

    def command(state: VolumeState, w: Writes) -> None:
        if changes:
            quota.set_limits(w, project, changes)

    await service.run(metadata(request), command)
    return web.json_response(
        {"quota_set": _document(service.state, service.config.quotas, project)}
    )


def _changes(body: dict[str, Any], known: set[str]) -> dict[str, int]:
    changes: dict[str, int] = {}
    for key, value in body.items():
        if key in ("tenant_id", "id", "class_name"):
            continue
        if key not in known:
            raise bad(f"Bad key(s) in quota set: {key}")
        if isinstance(value, str) and value.lstrip("-").isdigit():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int) or value < -1:
            raise bad(f"Quota limit {value!r} for {key} must be an integer of -1 or more.")
        changes[key] = value
    return changes


async def show_class(request: web.Request) -> web.Response:
    caller(request, admin=True)
    name = request.match_info["class_name"]
    service = volumes(request)
    shown = _document(service.state, _class_base(service.config.quotas, service.state, name), None)
    return web.json_response({"quota_class_set": {"id": name, **shown}})


def _class_base(defaults: dict[str, int], state: VolumeState, name: str) -> dict[str, int]:
    # A class other than ``default`` starts from the defaults and adds its own.
    return {**defaults, **state.quota_classes.get(name, {})}


async def update_class(request: web.Request) -> web.Response:
    caller(request, admin=True)
    name = request.match_info["class_name"]
    body = await body_of(request, "quota_class_set")
    service = volumes(request)
    changes = _changes(body, set(_document(service.state, service.config.quotas, None)))

    def command(state: VolumeState, w: Writes) -> None:
        if changes:
            quota.set_class(w, name, changes)

    await service.run(metadata(request), command)
    shown = _document(service.state, _class_base(service.config.quotas, service.state, name), None)
    return web.json_response({"quota_class_set": shown})


async def delete(request: web.Request) -> web.Response:
    caller(request, admin=True)
    project = request.match_info["target"]
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> None:
        if project in state.quotas:
            quota.reset(w, project)

    await service.run(metadata(request), command)
    return web.Response(status=200)
