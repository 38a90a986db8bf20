"""``POST /v3/volumes/{id}/action``: one action per request, named by its body's key.

Built: ``os-extend``, ``os-set_bootable``, ``os-update_readonly_flag``,
``os-retype`` (no migration), ``os-reset_status``, ``os-force_delete`` and
``os-force_detach`` (admins), the volume image metadata actions, and the legacy
attach actions a compute service calls (``os-reserve``, ``os-attach``,
``os-begin_detaching``, ``os-detach``, ...; :mod:`cairn.volume.attach`) with
the connection info a compute host reaches the volume by
(``os-initialize_connection``, :mod:`cairn.volume.connections`). Any
other action is a 400 naming it.
"""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.volume.common import (
    bad,
    boolean,
    caller,
    metadata,
    metadata_dict,
    size,
    token,
    volumes,
)
from cairn.api.volume.keys import IMAGE_LOOKUP
from cairn.api.volume.microversions import version
from cairn.api.volume.views import when
from cairn.events import volume as ev
from cairn.projections.volume import VolumeState
from cairn.volume import access, connections
from cairn.volume import attach as attaching
from cairn.volume import volumes as decide
from cairn.volume.writes import Writes

Action = Callable[[web.Request, str, Any], Awaitable[web.Response]]


async def _extend(request: web.Request, volume_id: str, args: Any) -> web.Response:
    who = caller(request, write=True)
    if not isinstance(args, dict) or "new_size" not in args:
        raise bad("'new_size' is a required property")
    new_size = size(args["new_size"], "new_size")
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> None:
        volume = access.volume(state, who, volume_id)
        if volume.status == "in-use" and version(request) < (3, 42):
            raise bad("extending an in-use volume needs microversion 3.42 or later.")
        decide.extend(state, who, service.config, volume_id, new_size, w)

    await service.run(metadata(request), command)
    return web.Response(status=202)


async def _set_bootable(request: web.Request, volume_id: str, args: Any) -> web.Response:
    who = caller(request, write=True)
    if not isinstance(args, dict) or "bootable" not in args:
        raise bad("'bootable' is a required property")
    flag = boolean(args["bootable"], "bootable")
    event = ev.VolumeFlagsSet(volume_id=volume_id, bootable=flag)

    def command(state: VolumeState, w: Writes) -> None:
        decide.set_flags(state, who, volume_id, event, w)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=200)


async def _readonly(request: web.Request, volume_id: str, args: Any) -> web.Response:
    who = caller(request, write=True)
    if not isinstance(args, dict) or "readonly" not in args:
        raise bad("'readonly' is a required property")
    flag = boolean(args["readonly"], "readonly")
    event = ev.VolumeFlagsSet(volume_id=volume_id, readonly=flag)

    def command(state: VolumeState, w: Writes) -> None:
        decide.set_flags(state, who, volume_id, event, w)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


async def _reset_status(request: web.Request, volume_id: str, args: Any) -> web.Response:
    who = caller(request, admin=True)
    if not isinstance(args, dict) or not args:
        raise bad("Must specify 'status', 'attach_status' or 'migration_status' for update.")
    unknown = sorted(set(args) - {"status", "attach_status", "migration_status"})
    if unknown:
        raise bad(f"Additional properties are not allowed ({', '.join(unknown)}).")
    changes: dict[str, Any] = {}
    for key in ("status", "attach_status"):
        if key in args:
            if not isinstance(args[key], str):
                raise bad(f"{key} must be a string.")
            changes[key] = args[key].lower()
    if "migration_status" in args:
        value = args["migration_status"]
        if value is not None and not isinstance(value, str):
            raise bad("migration_status must be a string.")
        changes["migration_status"] = None if value in (None, "none") else value.lower()
    event = ev.VolumeStatusReset(volume_id=volume_id, **changes)

    def command(state: VolumeState, w: Writes) -> None:
        decide.reset_status(state, who, volume_id, event, w)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


async def _force_delete(request: web.Request, volume_id: str, args: Any) -> web.Response:
    who = caller(request, admin=True)

    def command(state: VolumeState, w: Writes) -> None:
        decide.delete(state, who, volume_id, w, cascade=False, force=True)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


async def _set_image_metadata(request: web.Request, volume_id: str, args: Any) -> web.Response:
    who = caller(request, write=True)
    if not isinstance(args, dict) or "metadata" not in args:
        raise bad("'metadata' is a required property")
    wanted = metadata_dict(args["metadata"])
    service = volumes(request)

    def command(state: VolumeState, w: Writes) -> dict[str, str]:
        volume = access.volume(state, who, volume_id)
        merged = {**volume.image_metadata, **wanted}
        decide.set_image_metadata(state, who, volume_id, merged, w)
        return merged

    merged = await service.run(metadata(request), command)
    return web.json_response({"metadata": merged})


async def _unset_image_metadata(request: web.Request, volume_id: str, args: Any) -> web.Response:
    who = caller(request, write=True)
    if not isinstance(args, dict) or not isinstance(args.get("key"), str):
        raise bad("'key' is a required property")
    key = args["key"]

    def command(state: VolumeState, w: Writes) -> None:
        volume = access.volume(state, who, volume_id)
        if key not in volume.image_metadata:
            raise HTTPFault.not_found(f"Glance metadata for volume {volume_id} cannot be found.")
        left = {k: v for k, v in volume.image_metadata.items() if k != key}
        decide.set_image_metadata(state, who, volume_id, left, w)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=200)


async def _show_image_metadata(request: web.Request, volume_id: str, args: Any) -> web.Response:
    who = caller(request)
    volume = access.volume(volumes(request).state, who, volume_id)
    return web.json_response({"metadata": dict(volume.image_metadata)})


def _simple(name: str, decider: Callable[..., None], status: int = 202) -> Action:
    """An action whose body carries nothing the decider needs."""

    async def handle(request: web.Request, volume_id: str, args: Any) -> web.Response:
        who = caller(request, write=True)

        def command(state: VolumeState, w: Writes) -> None:
            decider(state, who, volume_id, w)

        await volumes(request).run(metadata(request), command)
        return web.Response(status=status)

    handle.__name__ = name
    return handle


async def _attach(request: web.Request, volume_id: str, args: Any) -> web.Response:
    who = caller(request, write=True)
    if not isinstance(args, dict):
        raise bad("os-attach needs an object.")
    server_id, host_name = args.get("instance_uuid"), args.get("host_name")
    mountpoint, mode = args.get("mountpoint"), args.get("mode", "rw")
    if server_id is None and host_name is None:
        raise bad("Invalid request to attach volume: instance_uuid or host_name is required.")
    if server_id is not None:
        try:
            server_id = str(uuid.UUID(str(server_id)))
        except ValueError:
            raise bad(
                f"Invalid request to attach volume to an invalid target: {server_id}"
            ) from None
    if host_name is not None and not isinstance(host_name, str):
        raise bad("host_name must be a string.")
    if not isinstance(mountpoint, str) or not mountpoint:
        raise bad("'mountpoint' is a required property")
    if mode not in ("rw", "ro"):
        raise bad(
            "Invalid request to attach volume with an invalid mode. Attaching mode should be "
            "'rw' or 'ro'"
        )
    attachment_id = str(uuid.uuid4())

    def command(state: VolumeState, w: Writes) -> None:
        attaching.attach(
            state,
            who,
            volume_id,
            w,
            attachment_id=attachment_id,
            server_id=server_id,
            host_name=host_name,
            mountpoint=mountpoint,
            mode=mode,
        )

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


def _connector(args: Any, action: str) -> dict[str, Any]:
    connector = args.get("connector") if isinstance(args, dict) else None
    if not isinstance(connector, dict):
        raise bad(f"Must specify 'connector' in {action}.")
    return connector


async def _initialize_connection(request: web.Request, volume_id: str, args: Any) -> web.Response:
    # Cinder's policy: the volume's owner or an admin (a compute service acts as either).
    who = caller(request, write=True)
    connector = _connector(args, "os-initialize_connection")
    info = connections.connection_info(volumes(request).state, who, volume_id, connector)
    return web.json_response({"connection_info": info})


async def _terminate_connection(request: web.Request, volume_id: str, args: Any) -> web.Response:
    who = caller(request, write=True)
    _connector(args, "os-terminate_connection")
    connections.terminate(volumes(request).state, who, volume_id)
    return web.Response(status=202)


def _detacher(*, force: bool) -> Action:
    async def handle(request: web.Request, volume_id: str, args: Any) -> web.Response:
        who = caller(request, admin=force, write=True)
        wanted = args.get("attachment_id") if isinstance(args, dict) else None
        if wanted is not None and not isinstance(wanted, str):
            raise bad("attachment_id must be a string.")

        def command(state: VolumeState, w: Writes) -> None:
            attaching.detach(state, who, volume_id, w, attachment_id=wanted, force=force)

        await volumes(request).run(metadata(request), command)
        return web.Response(status=202)

    return handle


async def _retype(request: web.Request, volume_id: str, args: Any) -> web.Response:
    who = caller(request, write=True)
    if not isinstance(args, dict) or not isinstance(args.get("new_type"), str):
        raise bad("'new_type' is a required property")
    policy = args.get("migration_policy", "never")
    if policy not in ("never", "on-demand", None):
        raise bad(f"migration_policy must be 'never' or 'on-demand', not {policy!r}.")
    new_type = args["new_type"]

    def command(state: VolumeState, w: Writes) -> None:
        decide.retype(state, who, volume_id, new_type, w)

    await volumes(request).run(metadata(request), command)
    return web.Response(status=202)


#: what Cinder does not copy from a volume's image metadata into an uploaded image
RESERVED_IMAGE_KEYS = frozenset(
    {
        "image_id",
        "image_name",
        "checksum",
        "container_format",
        "disk_format",
        "size",
        "min_disk",
        "min_ram",
        "os_hash_algo",
        "os_hash_value",
        "owner",
        "visibility",
    }
)


async def _upload_image(request: web.Request, volume_id: str, args: Any) -> web.Response:
    who = caller(request, write=True)
    if not isinstance(args, dict):
        raise bad("os-volume_upload_image needs an object.")
    name = args.get("image_name")
    if not isinstance(name, str) or not name.strip() or len(name) > 255:
        raise bad("'image_name' is a required property")
    disk_format = args.get("disk_format", "raw")
    container_format = args.get("container_format", "bare")
    if disk_format not in decide.UPLOAD_FORMATS:
        raise bad(f"Invalid disk-format '{disk_format}' is specified.")
    if container_format != "bare":
        raise bad(f"Invalid container-format '{container_format}' is specified.")
    force = boolean(args.get("force", False), "force")
    visibility = args.get("visibility", "private")
    if visibility not in ("private", "public", "shared", "community"):
        raise bad(f"Invalid visibility {visibility!r}.")
    protected = boolean(args.get("protected", False), "protected")
    service = volumes(request)
    volume = decide.check_upload(service.state, who, volume_id, force)
    lookup = request.config_dict[IMAGE_LOOKUP]
    attributes: dict[str, object] = {
        key: value for key, value in volume.image_metadata.items() if key not in RESERVED_IMAGE_KEYS
    }
    attributes.update(
        name=name,
        disk_format=disk_format,
        container_format=container_format,
        visibility=visibility,
        protected=protected,
        min_disk=volume.size,
    )
    image_id = await lookup.create(token(request), attributes)

    def command(state: VolumeState, w: Writes) -> None:
        decide.upload(state, who, volume_id, image_id, disk_format, w, force=force)

    try:
        await service.run(metadata(request), command)
    except BaseException:
        await lookup.delete(token(request), image_id)
        raise
    shown = service.state.volumes[volume_id]
    return web.json_response(
        {
            "os-volume_upload_image": {
                "id": volume_id,
                "updated_at": when(shown.updated_at),
                "status": shown.status,
                "display_description": shown.description,
                "size": shown.size,
                "volume_type": None,
                "image_id": image_id,
                "image_name": name,
                "container_format": container_format,
                "disk_format": disk_format,
                "visibility": visibility,
                "protected": protected,
            }
        },
        status=202,
    )


ACTIONS: dict[str, Action] = {
    "os-volume_upload_image": _upload_image,
    "os-initialize_connection": _initialize_connection,
    "os-terminate_connection": _terminate_connection,
    "os-reserve": _simple("reserve", attaching.reserve),
    "os-unreserve": _simple("unreserve", attaching.unreserve),
    "os-attach": _attach,
    "os-begin_detaching": _simple("begin_detaching", attaching.begin_detaching),
    "os-roll_detaching": _simple("roll_detaching", attaching.roll_detaching),
    "os-detach": _detacher(force=False),
    "os-force_detach": _detacher(force=True),
    "os-retype": _retype,
    "os-extend": _extend,
    "os-set_bootable": _set_bootable,
    "os-update_readonly_flag": _readonly,
    "os-reset_status": _reset_status,
    "os-force_delete": _force_delete,
    "os-set_image_metadata": _set_image_metadata,
    "os-unset_image_metadata": _unset_image_metadata,
    "os-show_image_metadata": _show_image_metadata,
}


async def action(request: web.Request) -> web.Response:
    volume_id = request.match_info["id"]
    document = await read_json(request)
    if not isinstance(document, dict) or len(document) != 1:
        raise HTTPFault.bad_request("Malformed request body: one action is expected.")
    ((name, args),) = document.items()
    handler = ACTIONS.get(name)
    if handler is None:
        raise HTTPFault.bad_request(f"There is no such action: {name}")
    # The volume must be the caller's to see before anything is said about the body.
    access.volume(volumes(request).state, caller(request), volume_id)
    return await handler(request, volume_id, args)
