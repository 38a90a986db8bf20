"""Nova's volume proxy: ``/os-volumes`` and ``/os-snapshots`` (before 2.36), in
Nova's shapes, on the block storage service's documents with the caller's token.

Nova's names are camel-cased (``displayName``, ``availabilityZone``); a volume
attached nowhere has Nova's odd ``"attachments": [{}]``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.compute.auth import authorize, project_of
from cairn.api.compute.common import compute, invalid, json, v, whole
from cairn.api.compute.keys import VOLUME_DOCUMENTS
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute.volume_documents import Document, VolumeDocuments

PROXY_MAX = (2, 35)
#: Nova's names -> Cinder's
RENAMED = {
    "display_name": "name",
    "display_description": "description",
    "volume_type": "volume_type",
    "metadata": "metadata",
    "availability_zone": "availability_zone",
    "snapshot_id": "snapshot_id",
}
VOLUME_FIELDS = frozenset({"size", *RENAMED})
SNAPSHOT_FIELDS = frozenset({"volume_id", "display_name", "display_description", "force"})


def _port(request: web.Request) -> VolumeDocuments:
    found = request.config_dict.get(VOLUME_DOCUMENTS)
    if found is None or v(request) > PROXY_MAX:
        raise HTTPFault.not_found("The resource could not be found.")
    return found


async def _allowed(request: web.Request, rule: str) -> tuple[VolumeDocuments, str]:
    port = _port(request)
    project = project_of(caller(request))
    await authorize(request, rule, {"project_id": project})
    return port, request.headers.get("X-Auth-Token", "")


def _volume(volume: Document) -> dict[str, Any]:
    attachments = []
    for attached in volume.get("attachments") or []:
        shown = {
            "id": volume["id"],
            "volumeId": volume["id"],
            "serverId": attached.get("server_id"),
        }
        if attached.get("device"):
            shown["device"] = attached["device"]
        attachments.append(shown)
    return {
        "id": volume["id"],
        "status": volume.get("status"),
        "size": volume.get("size"),
        "availabilityZone": volume.get("availability_zone"),
        "createdAt": volume.get("created_at"),
        "attachments": attachments or [{}],
        "displayName": volume.get("name"),
        "displayDescription": volume.get("description"),
        "volumeType": volume.get("volume_type"),
        "snapshotId": volume.get("snapshot_id"),
        "metadata": volume.get("metadata") or {},
    }


def _snapshot(snapshot: Document) -> dict[str, Any]:
    return {
        "id": snapshot["id"],
        "volumeId": snapshot.get("volume_id"),
        "status": snapshot.get("status"),
        "size": snapshot.get("size"),
        "createdAt": snapshot.get("created_at"),
        "displayName": snapshot.get("name"),
        "displayDescription": snapshot.get("description"),
    }


def _fields(body: Any, root: str, allowed: frozenset[str]) -> dict[str, Any]:
    if not isinstance(body, dict) or not isinstance(body.get(root), dict) or set(body) != {root}:
        raise HTTPFault.bad_request(f"Invalid input: '{root}' is a required property")
    fields: dict[str, Any] = body[root]
    unknown = sorted(set(fields) - allowed)
    if unknown:
        raise HTTPFault.bad_request(
            f"Invalid input for field/attribute {root}. Additional properties are not allowed "
            f"({', '.join(repr(k) for k in unknown)} were unexpected)"
        )
    for key, value in fields.items():
        if key in ("metadata",):
            if not isinstance(value, dict):
                raise invalid(key, value, "It must be an object")
        elif key not in ("size", "force") and not isinstance(value, str):
            raise invalid(key, value, f"{value!r} is not of type 'string'")
    return fields


# -- volumes ------------------------------------------------------------------------------


def _limited(request: web.Request, items: list[Document]) -> list[Document]:
    """Nova's ``common.limited``: ``offset`` and ``limit`` (capped at the maximum)."""
    bounds = {}
    for key, default in (("offset", 0), ("limit", compute(request).config.max_limit)):
        value = whole(request.query.get(key, default))
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise HTTPFault.bad_request(f"{key} param must be an integer")
        bounds[key] = value
    limit = min(
        bounds["limit"] or compute(request).config.max_limit, compute(request).config.max_limit
    )
    return items[bounds["offset"] : bounds["offset"] + limit]


async def _list_volumes(request: web.Request) -> web.Response:
    port, token = await _allowed(request, "os_compute_api:os-volumes:list")
    found = _limited(request, await port.list(token, "volumes"))
    return json({"volumes": [_volume(d) for d in found]})


async def list_volumes(request: web.Request) -> web.Response:
    return await _list_volumes(request)


async def list_volumes_detail(request: web.Request) -> web.Response:
    return await _list_volumes(request)


async def show_volume(request: web.Request) -> web.Response:
    port, token = await _allowed(request, "os_compute_api:os-volumes:show")
    found = await port.show(token, "volumes", request.match_info["volume_id"])
    return json({"volume": _volume(found)})


async def create_volume(request: web.Request) -> web.Response:
    port, token = await _allowed(request, "os_compute_api:os-volumes:create")
    fields = _fields(await read_json(request), "volume", VOLUME_FIELDS)
    if "size" not in fields:
        raise HTTPFault.bad_request("Invalid input: 'size' is a required property")
    size = whole(fields["size"])
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise invalid("size", fields["size"], "It must be an integer of at least 1")
    document: dict[str, Any] = {"size": size}
    for ours, theirs in RENAMED.items():
        if ours in fields:
            document[theirs] = fields[ours]
    made = await port.create(token, "volumes", document)
    location = f"{request.url.origin()}/compute/v2.1/os-volumes/{made['id']}"
    return json({"volume": _volume(made)}, headers={"Location": location})


async def delete_volume(request: web.Request) -> web.Response:
    port, token = await _allowed(request, "os_compute_api:os-volumes:delete")
    await port.delete(token, "volumes", request.match_info["volume_id"])
    return web.Response(status=202)


# -- snapshots ----------------------------------------------------------------------------


async def _list_snapshots(request: web.Request) -> web.Response:
    port, token = await _allowed(request, "os_compute_api:os-volumes:snapshots:list")
    found = _limited(request, await port.list(token, "snapshots"))
    return json({"snapshots": [_snapshot(d) for d in found]})


async def list_snapshots(request: web.Request) -> web.Response:
    return await _list_snapshots(request)


async def list_snapshots_detail(request: web.Request) -> web.Response:
    return await _list_snapshots(request)


async def show_snapshot(request: web.Request) -> web.Response:
    port, token = await _allowed(request, "os_compute_api:os-volumes:snapshots:show")
    found = await port.show(token, "snapshots", request.match_info["snapshot_id"])
    return json({"snapshot": _snapshot(found)})


async def create_snapshot(request: web.Request) -> web.Response:
    port, token = await _allowed(request, "os_compute_api:os-volumes:snapshots:create")
    fields = _fields(await read_json(request), "snapshot", SNAPSHOT_FIELDS)
    if "volume_id" not in fields:
        raise HTTPFault.bad_request("Invalid input: 'volume_id' is a required property")
    force = fields.get("force", False)
    if isinstance(force, str) and force.lower() in ("true", "false"):
        force = force.lower() == "true"
    if not isinstance(force, bool):
        raise invalid("force", force, "It must be a boolean")
    document: dict[str, Any] = {"volume_id": fields["volume_id"], "force": force}
    if "display_name" in fields:
        document["name"] = fields["display_name"]
    if "display_description" in fields:
        document["description"] = fields["display_description"]
    made = await port.create(token, "snapshots", document)
    return json({"snapshot": _snapshot(made)})


async def delete_snapshot(request: web.Request) -> web.Response:
    port, token = await _allowed(request, "os_compute_api:os-volumes:snapshots:delete")
    await port.delete(token, "snapshots", request.match_info["snapshot_id"])
    return web.Response(status=202)
