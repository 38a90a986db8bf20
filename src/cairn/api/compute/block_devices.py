"""Boot from volume: a boot's ``block_device_mapping_v2`` (and the legacy
``block_device_mapping``, as Nova maps it) turned into the volumes the server
boots with.

Each mapping with ``destination_type: volume`` names a volume: the one given
(``source_type: volume``, reserved here for the server), or one the volume
service makes now with the caller's token, so it is the caller's and in their
quota (``image``: from the image, ``snapshot``: from the snapshot, ``blank``:
empty, each of ``volume_size`` GiB). The agent waits for made volumes to be
available at spawn (:mod:`cairn.agents.compute.volume_boot`). The mapping with
``boot_index`` 0 is the root disk: the server is volume-backed, boots without
an ``imageRef``, and shows its image as ``""`` as Nova does; its kernel and
ramdisk (direct kernel boot) come from the image properties the volume carries
(``volume_image_metadata``). The image's own local disk (``source_type: image``,
``destination_type: local``, boot index 0) is what an image boot does anyway.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from cairn.api.compute.common import volume_port
from cairn.api.faults import HTTPFault
from cairn.compute.errors import NotFound
from cairn.events.compute import FlavorSnapshot, ImageSnapshot
from cairn.events.compute_volumes import volume_entry

_SOURCES = ("volume", "image", "snapshot", "blank")
_KEYS = frozenset(
    {"source_type", "destination_type", "uuid", "boot_index", "delete_on_termination"}
    | {"volume_size", "device_name", "tag", "guest_format", "disk_bus", "device_type"}
    | {"volume_type", "no_device"}
)
#: image properties a volume-backed guest needs from the volume's image metadata
_BOOT_PROPERTIES = frozenset(
    {"kernel_id", "ramdisk_id", "os_command_line", "architecture", "hypervisor_type"}
)


def _bad(message: str) -> HTTPFault:
    return HTTPFault.bad_request(f"Block Device Mapping is Invalid: {message}")


@dataclass
class Mapping:
    source: str
    uuid: str | None
    boot_index: int | None
    size: int | None
    delete: bool
    tag: str = ""
    volume_type: str | None = None


@dataclass
class BootVolumes:
    entries: list[dict[str, str]] = field(default_factory=list)
    #: what a volume-backed server shows and boots as its image (None: an image boot)
    image: ImageSnapshot | None = None


def _integer(value: Any, what: str) -> int | None:
    if value is None:
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise _bad(f"{what} {value!r} is not an integer") from None
    return number


def mappings(data: dict[str, Any]) -> list[Mapping]:
    """The volume mappings of a server body (empty: an image boot)."""
    found: list[Mapping] = []
    v2 = data.get("block_device_mapping_v2") or []
    legacy = data.get("block_device_mapping") or []
    if v2 and legacy:
        raise HTTPFault.bad_request(
            "Using different block_device_mapping syntaxes is not allowed in the same request."
        )
    if not isinstance(v2, list) or not isinstance(legacy, list):
        raise HTTPFault.bad_request("Invalid input: block_device_mapping must be a list")
    source: str
    for raw in legacy:
        # Nova's legacy mapping: volume_id or snapshot_id, the root device boots.
        if not isinstance(raw, dict):
            raise HTTPFault.bad_request("Invalid input: a block device mapping is an object")
        source = "snapshot" if raw.get("snapshot_id") else "volume"
        ident = raw.get("snapshot_id") or raw.get("volume_id")
        if not isinstance(ident, str):
            raise _bad("a legacy mapping needs volume_id or snapshot_id")
        device = str(raw.get("device_name") or "")
        root = device.removeprefix("/dev/") in ("vda", "sda", "xvda")
        size = _integer(raw.get("volume_size"), "volume_size")
        delete = raw.get("delete_on_termination") in (True, "True", "true", "1", 1)
        found.append(Mapping(source, ident, 0 if root else None, size, bool(delete)))
    for raw in v2:
        if not isinstance(raw, dict):
            raise HTTPFault.bad_request("Invalid input: a block device mapping is an object")
        unknown = sorted(set(raw) - _KEYS)
        if unknown:
            raise HTTPFault.bad_request(
                "Invalid input for field/attribute block_device_mapping_v2. Additional "
                f"properties are not allowed ({unknown[0]!r} was unexpected)"
            )
        source = str(raw.get("source_type"))
        destination = raw.get("destination_type") or ("volume" if source == "volume" else "local")
        boot_index = _integer(raw.get("boot_index"), "boot_index")
        if boot_index is not None and boot_index < 0:
            boot_index = None  # Nova: a negative boot index is "not bootable"
        if source not in _SOURCES or destination not in ("local", "volume"):
            raise _bad(f"source_type {source!r} to destination_type {destination!r}")
        if destination == "local":
            if source == "image" and boot_index == 0:
                continue  # the image's own disk: what an image boot does
            raise HTTPFault.bad_request(
                "Block device mapping to a local disk other than the image's own is not "
                "supported: ephemeral and swap disks are not built."
            )
        ident = raw.get("uuid")
        if source != "blank" and (not isinstance(ident, str) or not ident):
            raise _bad(f"a {source} mapping needs the uuid of its source")
        size = _integer(raw.get("volume_size"), "volume_size")
        if source in ("image", "blank") and (size is None or size < 1):
            raise _bad(f"a {source} mapping to a volume needs volume_size")
        delete = raw.get("delete_on_termination", False)
        if not isinstance(delete, bool):
            raise HTTPFault.bad_request(
                f"Invalid input for field/attribute delete_on_termination. Value: {delete}."
            )
        tag = raw.get("tag")
        kind = raw.get("volume_type")
        found.append(
            Mapping(
                source,
                ident if source != "blank" else None,
                boot_index,
                size,
                delete,
                tag if isinstance(tag, str) else "",
                kind if isinstance(kind, str) else None,
            )
        )
    roots = [m for m in found if m.boot_index == 0]
    if len(roots) > 1:
        raise _bad(
            "Boot sequence for the instance and image/block device mapping combination "
            "is not valid."
        )
    return found


def volume_backed(found: list[Mapping]) -> bool:
    return any(m.boot_index == 0 for m in found)


async def prepare(
    request: web.Request,
    found: list[Mapping],
    token: str,
    *,
    config_drive: bool,
    image_of: Any,
    flavor: FlavorSnapshot,
) -> BootVolumes:
    """Make or reserve the volumes of ``found`` with the caller's ``token``."""
    result = BootVolumes()
    if not found:
        return result
    port = volume_port(request)
    devices = iter(f"/dev/vd{c}" for c in "bcdefghijklmnopqrstuvwxyz"[1 if config_drive else 0 :])
    for mapping in sorted(found, key=lambda m: (m.boot_index is None, m.boot_index or 0)):
        properties: dict[str, str] = {}
        if mapping.source == "volume":
            assert mapping.uuid is not None
            volume = await _show(port, token, mapping.uuid)
            if volume.get("status") != "available":
                raise HTTPFault.bad_request(
                    f"Invalid volume: volume '{mapping.uuid}' status must be 'available'. "
                    f"Currently in '{volume.get('status')}'"
                )
            await port.action(token, mapping.uuid, "os-reserve", {})
            volume_id = mapping.uuid
            properties = dict(volume.get("volume_image_metadata") or {})
        else:
            document: dict[str, Any] = {"size": mapping.size}
            if mapping.volume_type:
                document["volume_type"] = mapping.volume_type
            if mapping.source == "image":
                assert mapping.uuid is not None
                image: ImageSnapshot = await image_of(mapping.uuid, flavor)
                document["imageRef"] = mapping.uuid
                properties = dict(image.properties)
            elif mapping.source == "snapshot":
                assert mapping.uuid is not None
                snapshot = await _show(port, token, mapping.uuid, kind="snapshots")
                document["snapshot_id"] = mapping.uuid
                document["size"] = mapping.size or snapshot.get("size")
                source = await _show(port, token, str(snapshot.get("volume_id")))
                properties = dict(source.get("volume_image_metadata") or {})
            made = await port.create(token, "volumes", document)
            volume_id = str(made["id"])
        root = mapping.boot_index == 0
        result.entries.append(
            volume_entry(
                volume_id,
                str(uuid.uuid4()),
                "/dev/vda" if root else next(devices),
                tag=mapping.tag,
                delete_on_termination=mapping.delete,
                boot_index=mapping.boot_index,
            )
        )
        if root:
            kept = {k: str(v) for k, v in properties.items() if k in _BOOT_PROPERTIES}
            result.image = ImageSnapshot(image_id="", properties=kept)
    return result


async def _show(port: Any, token: str, ident: str, kind: str = "volumes") -> dict[str, Any]:
    try:
        found: dict[str, Any] = await port.show(token, kind, ident)
    except NotFound:
        what = "volume" if kind == "volumes" else "snapshot"
        raise _bad(f"failed to get {what} {ident}.") from None
    return found
