"""How compute resources look at each microversion (Nova's view builders)."""

from __future__ import annotations

import hashlib
from typing import Any

from aiohttp import web

from cairn.projections.compute import Flavor, Host, Server
from cairn.projections.compute_state import server_hostname

#: Nova's status for each vm_state, and the task states that override it
STATUS_BY_VM_STATE = {
    "building": "BUILD",
    "active": "ACTIVE",
    "stopped": "SHUTOFF",
    "paused": "PAUSED",
    "suspended": "SUSPENDED",
    "error": "ERROR",
    "deleted": "DELETED",
    "soft-delete": "SOFT_DELETED",
    "shelved": "SHELVED",
    "shelved_offloaded": "SHELVED_OFFLOADED",
    "rescued": "RESCUE",
    "resized": "VERIFY_RESIZE",
}
STATUS_BY_TASK = {
    ("active", "rebooting"): "REBOOT",
    ("active", "reboot_pending"): "REBOOT",
    ("active", "reboot_started"): "REBOOT",
    ("active", "rebooting_hard"): "HARD_REBOOT",
    ("stopped", "rebooting_hard"): "HARD_REBOOT",
    ("paused", "rebooting_hard"): "HARD_REBOOT",
    ("suspended", "rebooting_hard"): "HARD_REBOOT",
    ("error", "rebooting_hard"): "HARD_REBOOT",
    ("active", "rebuilding"): "REBUILD",
    ("stopped", "rebuilding"): "REBUILD",
    ("error", "rebuilding"): "REBUILD",
    **{
        (vm_state, task): "RESIZE"
        for vm_state in ("active", "stopped")
        for task in ("resize_prep", "resize_migrating", "resize_migrated", "resize_finish")
    },
    ("resized", "resize_reverting"): "REVERT_RESIZE",
}
#: status filter value -> the vm_states it matches (Nova's reverse map)
VM_STATES_BY_STATUS: dict[str, tuple[str, ...]] = {
    "BUILD": ("building",),
    "ACTIVE": ("active",),
    "SHUTOFF": ("stopped",),
    "PAUSED": ("paused",),
    "SUSPENDED": ("suspended",),
    "ERROR": ("error",),
    "DELETED": ("deleted",),
    "SOFT_DELETED": ("soft-delete",),
    "SHELVED": ("shelved",),
    "SHELVED_OFFLOADED": ("shelved_offloaded",),
    "RESCUE": ("rescued",),
    "VERIFY_RESIZE": ("resized",),
    "REBOOT": ("active",),
    "HARD_REBOOT": ("active", "stopped", "paused", "suspended", "error"),
    "MIGRATING": ("active",),
    "RESIZE": ("active", "stopped"),
    "REVERT_RESIZE": ("resized",),
    "PASSWORD": ("active",),
    "UNKNOWN": (),
}


def status(server: Server) -> str:
    found = STATUS_BY_TASK.get((server.vm_state, server.task_state or ""))
    return found or STATUS_BY_VM_STATE.get(server.vm_state, "UNKNOWN")


def base_url(request: web.Request) -> str:
    """``http://host:port/compute``: bookmark links hang off this."""
    return f"{request.url.origin()}/compute"


def links(request: web.Request, kind: str, ident: str) -> list[dict[str, str]]:
    base = base_url(request)
    return [
        {"rel": "self", "href": f"{base}/v2.1/{kind}/{ident}"},
        {"rel": "bookmark", "href": f"{base}/{kind}/{ident}"},
    ]


def host_id(project_id: str, host: str | None) -> str:
    """Nova's opaque ``hostId``: equal for two servers of a project on one host."""
    if not host:
        return ""
    return hashlib.sha224((project_id + host).encode()).hexdigest()


def host_status(host: Host | None, now: float) -> str:
    if host is None:
        return ""
    if not host.enabled:
        return "MAINTENANCE"
    return "UP" if host.is_up(now) else "DOWN"


def server_summary(request: web.Request, server: Server) -> dict[str, Any]:
    return {"id": server.id, "name": server.name, "links": links(request, "servers", server.id)}


def _flavor(request: web.Request, server: Server, v: tuple[int, int]) -> dict[str, Any]:
    flavor = server.flavor
    if v >= (2, 47):
        return {
            "vcpus": flavor.vcpus, "ram": flavor.ram_mb, "disk": flavor.disk_gb,
            "ephemeral": flavor.ephemeral_gb, "swap": flavor.swap_mb,
            "original_name": flavor.name, "extra_specs": dict(flavor.extra_specs),
        }  # fmt: skip
    return {
        "id": flavor.flavor_id,
        "links": [{"rel": "bookmark", "href": f"{base_url(request)}/flavors/{flavor.flavor_id}"}],
    }


def _image(request: web.Request, server: Server, v: tuple[int, int]) -> dict[str, Any] | str:
    image = server.image
    if not image.image_id:
        return ""  # volume-backed: Nova shows no image
    view: dict[str, Any] = {
        "id": image.image_id,
        "links": [{"rel": "bookmark", "href": f"{base_url(request)}/images/{image.image_id}"}],
    }
    if v >= (2, 98):
        view["properties"] = dict(image.properties)
    return view


def _fault(server: Server, admin: bool) -> dict[str, Any] | None:
    fault = server.fault
    if fault is None or server.vm_state not in ("error", "deleted"):
        return None
    view: dict[str, Any] = {"code": fault.code, "created": fault.created, "message": fault.message}
    if admin or fault.code != 500:
        view["details"] = fault.details
    return view


def volumes_attached(server: Server, v: tuple[int, int]) -> list[dict[str, Any]]:
    """``os-extended-volumes:volumes_attached``: each volume's id, and from 2.3
    whether it goes with the server."""
    if v < (2, 3):
        return [{"id": e["volume_id"]} for e in server.volumes]
    return [
        {"id": e["volume_id"], "delete_on_termination": e.get("delete_on_termination") == "true"}
        for e in server.volumes
    ]


def server_detail(
    request: web.Request,
    server: Server,
    v: tuple[int, int],
    *,
    admin: bool,
    host: Host | None,
    now: float,
) -> dict[str, Any]:
    shown = status(server)
    view: dict[str, Any] = {
        "id": server.id,
        "name": server.name,
        "status": shown,
        "tenant_id": server.project_id,
        "user_id": server.user_id,
        "metadata": dict(server.metadata),
        "hostId": host_id(server.project_id, server.host),
        "image": _image(request, server, v),
        "flavor": _flavor(request, server, v),
        "created": server.created_at,
        "updated": server.updated_at,
        "addresses": server.addresses,
        "accessIPv4": server.access_ip_v4,
        "accessIPv6": server.access_ip_v6,
        "links": links(request, "servers", server.id),
        "OS-DCF:diskConfig": "MANUAL",
        "OS-EXT-AZ:availability_zone": server.host_zone or server.availability_zone or "",
        "config_drive": "True" if server.config_drive else "",
        "key_name": server.key_name,
        "OS-SRV-USG:launched_at": server.launched_at,
        "OS-SRV-USG:terminated_at": server.terminated_at,
        "OS-EXT-STS:task_state": server.task_state,
        "OS-EXT-STS:vm_state": server.vm_state,
        "OS-EXT-STS:power_state": server.power_state,
        "os-extended-volumes:volumes_attached": volumes_attached(server, v),
    }
    if server.networks != []:
        view["security_groups"] = [{"name": n} for n in server.security_groups or ["default"]]
    if shown in ("BUILD", "ACTIVE"):
        view["progress"] = 0
    fault = _fault(server, admin)
    if fault is not None:
        view["fault"] = fault
    if admin:
        view["OS-EXT-SRV-ATTR:host"] = server.host
        view["OS-EXT-SRV-ATTR:hypervisor_hostname"] = server.host
        view["OS-EXT-SRV-ATTR:instance_name"] = server.instance_name
        if v >= (2, 3):
            props = server.image.properties
            view.update({
                "OS-EXT-SRV-ATTR:reservation_id": server.reservation_id,
                "OS-EXT-SRV-ATTR:launch_index": server.launch_index,
                "OS-EXT-SRV-ATTR:kernel_id": props.get("kernel_id", ""),
                "OS-EXT-SRV-ATTR:ramdisk_id": props.get("ramdisk_id", ""),
                "OS-EXT-SRV-ATTR:hostname": server_hostname(server),
                "OS-EXT-SRV-ATTR:root_device_name": "/dev/vda",
                "OS-EXT-SRV-ATTR:user_data": server.user_data,
            })  # fmt: skip
    elif v >= (2, 90):
        view["OS-EXT-SRV-ATTR:hostname"] = server_hostname(server)
    if v >= (2, 9):
        view["locked"] = server.locked
    if v >= (2, 16) and admin:
        view["host_status"] = host_status(host, now) if server.host else ""
    if v >= (2, 19):
        view["description"] = server.description
    if v >= (2, 26):
        view["tags"] = list(server.tags)
    if v >= (2, 63):
        view["trusted_image_certificates"] = None
    if v >= (2, 71):
        view["server_groups"] = list(server.scheduler_hints.get("group", []))
    if v >= (2, 73):
        view["locked_reason"] = server.locked_reason
    if v >= (2, 96):
        view["pinned_availability_zone"] = server.availability_zone
    if v >= (2, 100):
        view["scheduler_hints"] = {
            key: values[0] if len(values) == 1 and key == "group" else values
            for key, values in server.scheduler_hints.items()
        }
    return view


#: What Nova leaves out of a ``PUT /servers/{id}`` (and rebuild) answer before 2.75,
#: where those answers became the whole ``GET`` view.
_NOT_IN_CHANGE_ANSWERS = (
    "OS-EXT-AZ:availability_zone",
    "config_drive",
    "key_name",
    "OS-SRV-USG:launched_at",
    "OS-SRV-USG:terminated_at",
    "security_groups",
    "OS-EXT-STS:task_state",
    "OS-EXT-STS:vm_state",
    "OS-EXT-STS:power_state",
    "os-extended-volumes:volumes_attached",
    "host_status",
)


def changed_server(view: dict[str, Any], v: tuple[int, int]) -> dict[str, Any]:
    """``view`` (a :func:`server_detail`) as a change answers it: before 2.75 without
    the extended attributes and with bare addresses (``addr`` and ``version``)."""
    if v >= (2, 75):
        return view
    trimmed = {
        key: value
        for key, value in view.items()
        if key not in _NOT_IN_CHANGE_ANSWERS and not key.startswith("OS-EXT-SRV-ATTR:")
    }
    trimmed["addresses"] = {
        network: [{"version": a["version"], "addr": a["addr"]} for a in addresses]
        for network, addresses in view["addresses"].items()
    }
    return trimmed


def listed_server(view: dict[str, Any]) -> dict[str, Any]:
    """``view`` as ``GET /servers/detail`` lists it: Nova shows ``server_groups``
    (2.71) only for one server (a show, a change), never in a listing."""
    view.pop("server_groups", None)
    return view


def flavor_view(
    request: web.Request, flavor: Flavor, v: tuple[int, int], *, detail: bool
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "id": flavor.id,
        "name": flavor.name,
        "links": links(request, "flavors", flavor.id),
    }
    if v >= (2, 55):
        view["description"] = flavor.description
    if not detail:
        return view
    view.update({
        "ram": flavor.ram_mb, "vcpus": flavor.vcpus, "disk": flavor.disk_gb,
        "OS-FLV-EXT-DATA:ephemeral": flavor.ephemeral_gb,
        "swap": flavor.swap_mb or "", "rxtx_factor": flavor.rxtx_factor,
        "os-flavor-access:is_public": flavor.is_public, "OS-FLV-DISABLED:disabled": False,
    })  # fmt: skip
    if v >= (2, 75) and view["swap"] == "":
        view["swap"] = 0
    if v >= (2, 61):
        view["extra_specs"] = dict(flavor.extra_specs)
    return view
