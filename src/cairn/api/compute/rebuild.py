"""The ``rebuild`` server action: the same server, a fresh guest from an image.

Validated as Nova's schema does per microversion: ``imageRef`` always;
``name``, ``metadata``, ``adminPass``, ``preserve_ephemeral``,
``OS-DCF:diskConfig`` and the access addresses at 2.1; ``description`` from
2.19, ``key_name`` from 2.54 (``null`` removes the key), ``user_data`` from
2.57 (``null`` removes it); ``personality`` (file injection),
``trusted_image_certificates`` and ``hostname`` are refused, as at boot. The
answer is 202 with the server as a change shows it (status ``REBUILD``).
``adminPass`` is put on the rebuilt guest's config drive (``admin_pass`` in
``meta_data.json``, as Nova's drive has it); it is not echoed back.

A volume-backed server (its root disk a volume) is refused: before 2.93 with
another image than its root volume's, 400 as Nova ("Unable to rebuild with a
different image"); otherwise 409, since rebuilding one means reimaging its root
volume (Nova's 2.93), which the block storage service cannot do yet.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.compute.auth import authorize, is_admin, metadata
from cairn.api.compute.boot import _image, _image_id, _metadata, _user_data
from cairn.api.compute.common import compute, invalid, json, string, v, volume_port
from cairn.api.compute.servers import detail
from cairn.api.compute.views import changed_server
from cairn.api.faults import HTTPFault
from cairn.compute import rebuilds, servers
from cairn.events import compute as ev
from cairn.identity.service import Authenticated
from cairn.projections.compute import Server

_KEYS = {
    (2, 1): {"imageRef", "name", "metadata", "adminPass", "preserve_ephemeral",
             "OS-DCF:diskConfig", "accessIPv4", "accessIPv6", "personality"},
    (2, 19): {"description"},
    (2, 54): {"key_name"},
    (2, 57): {"user_data"},
    (2, 63): {"trusted_image_certificates"},
    (2, 90): {"hostname"},
}  # fmt: skip
_REFUSED = {
    "personality": "Personality (file injection) is not supported: use user_data.",
    "trusted_image_certificates": "Trusted image certificate validation is not supported.",
    "hostname": "Setting a server's hostname is not supported: it is derived from its name.",
}


def _allowed(version: tuple[int, int]) -> set[str]:
    keys: set[str] = set()
    for since, names in _KEYS.items():
        if version >= since:
            keys |= names
    if version >= (2, 57):
        keys.discard("personality")  # Nova took file injection out at 2.57
    return keys


def _key(
    request: web.Request, who: Authenticated, data: dict[str, Any], server: Server
) -> tuple[str | None, str | None]:
    """The rebuilt server's key name and public key."""
    state = compute(request).state
    if "key_name" not in data:
        if server.key_name is None:
            return None, None
        pair = state.keypairs.get(server.user_id, {}).get(server.key_name)
        return server.key_name, None if pair is None else pair.public_key
    name = data["key_name"]
    if name is None:
        return None, None
    if not isinstance(name, str):
        raise invalid("key_name", name, "It must be a string")
    pair = state.keypairs.get(who.user_id, {}).get(name)
    if pair is None:
        raise HTTPFault.bad_request(f"Invalid key_name provided: {name}")
    return name, pair.public_key


async def _refuse_volume_backed(request: web.Request, server: Server, image_id: str) -> None:
    """Nova's refusals of rebuilding a volume-backed server (see the module's docstring)."""
    root = next((e for e in server.volumes if e.get("boot_index") == "0"), None)
    if server.image.image_id or root is None:
        return
    if v(request) < (2, 93):
        token = request.headers.get("X-Auth-Token", "")
        volume = await volume_port(request).show(token, "volumes", root["volume_id"])
        metadata = volume.get("volume_image_metadata") or {}
        if metadata.get("image_id") != image_id:
            raise HTTPFault.bad_request(
                f"Image {image_id} is unacceptable: Unable to rebuild with a different image "
                "for a volume-backed server."
            )
    raise HTTPFault.conflict(
        f"Cannot 'rebuild' instance {server.id}: rebuilding a volume-backed server "
        "(reimaging its root volume) is not supported by this cloud."
    )


async def rebuild(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    await authorize(request, "os_compute_api:servers:rebuild", {"project_id": server.project_id})
    if not isinstance(args, dict):
        raise invalid("rebuild", args, "It must be an object")
    version = v(request)
    unknown = sorted(set(args) - _allowed(version))
    if unknown:
        raise HTTPFault.bad_request(
            f"Invalid input for field/attribute rebuild. Additional properties are not allowed "
            f"({', '.join(repr(k) for k in unknown)} were unexpected)"
        )
    for name, why in _REFUSED.items():
        if args.get(name) not in (None, [], ""):
            raise HTTPFault.bad_request(why)
    if "imageRef" not in args:
        raise HTTPFault.bad_request("Invalid input: 'imageRef' is a required property")
    new_name = string(args, "name", min_length=1)
    if new_name is not None and new_name != new_name.strip():
        raise invalid("name", new_name, "Leading and trailing whitespace is not allowed")
    password = args.get("adminPass")
    if password is not None and not isinstance(password, str):
        raise invalid("adminPass", password, "It must be a string")
    if not isinstance(args.get("preserve_ephemeral", False), bool):
        raise invalid("preserve_ephemeral", args["preserve_ephemeral"], "It must be a boolean")
    if args.get("OS-DCF:diskConfig", "MANUAL") not in ("AUTO", "MANUAL"):
        raise invalid("OS-DCF:diskConfig", args["OS-DCF:diskConfig"], "It must be AUTO or MANUAL")
    description = server.description
    if "description" in args:
        description = string(args, "description", nullable=True)
    user_data = server.user_data
    if "user_data" in args:
        user_data = _user_data(args)
    key_name, public_key = _key(request, who, args, server)
    meta = _metadata(args) if "metadata" in args else dict(server.metadata)
    image_id = _image_id(args["imageRef"])
    await _refuse_volume_backed(request, server, image_id)
    image = await _image(request, image_id, who.token, server.flavor)
    rebuilds.check(server, is_admin=is_admin(who))
    asked = ev.ServerRebuildRequested(
        server_id=server.id,
        host=server.host or "",
        image=image,
        name=new_name or server.name,
        metadata=meta,
        key_name=key_name,
        public_key=public_key,
        user_data=user_data,
        description=description,
        sealed_admin_password=None if password is None else compute(request).secrets.seal(password),
    )
    call, admin, service = metadata(request, who), is_admin(who), compute(request)
    await service.execute(
        lambda s: rebuilds.rebuild(s, call, servers.find(s, server.id), asked, is_admin=admin)
    )
    rebuilt = servers.find(service.state, server.id)
    shown = changed_server(detail(request, rebuilt, who), version)
    # Nova's rebuild answer carries the key from 2.54 and the user data from 2.57,
    # even where a change answer leaves the extended attributes out. No
    # ``adminPass``: Cairn sets no instance passwords (it reaches a guest only on
    # its config drive), as Nova with enable_instance_password off.
    if version >= (2, 54):
        shown["key_name"] = rebuilt.key_name
    if version >= (2, 57):
        # as ``user_data``, never the extended attribute's name (Nova's rebuild view)
        shown.pop("OS-EXT-SRV-ATTR:user_data", None)
        shown["user_data"] = rebuilt.user_data
    return json({"server": shown}, status=202)
