"""Reading a ``POST /servers`` body into a :class:`~cairn.compute.servers.BootRequest`.

Validation follows Nova's create schema and its error messages: a bad value is
a 400 that names the field; unknown keys are refused, as Nova's strict
schema does.
"""

from __future__ import annotations

import base64
import binascii
import re
import uuid
from typing import Any

from aiohttp import web

from cairn.api.compute import block_devices
from cairn.api.compute.auth import allowed, is_admin
from cairn.api.compute.common import compute, integer, invalid, string, v
from cairn.api.compute.server_fields import access_ips, boot_tags
from cairn.api.compute.unbuilt import refuse_unbuilt_boot, refuse_unbuilt_flavor
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute import flavors, quota
from cairn.compute.errors import NotFound
from cairn.compute.servers import BootRequest
from cairn.events.compute import FlavorSnapshot, ImageSnapshot
from cairn.identity.service import Authenticated
from cairn.projections.compute import ComputeState

UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"
)
MAX_USER_DATA = 65535
#: The most servers one request may ask for when the project's instances
#: quota is unlimited (ids are made for each before the quota is applied).
MAX_COUNT = 1000
KNOWN_KEYS = frozenset({
    "name", "imageRef", "flavorRef", "networks", "key_name", "user_data", "metadata",
    "availability_zone", "min_count", "max_count", "return_reservation_id", "description",
    "security_groups", "OS-DCF:diskConfig", "config_drive", "accessIPv4", "accessIPv6",
    "adminPass", "block_device_mapping", "block_device_mapping_v2", "personality", "tags",
    "hostname", "host", "hypervisor_hostname", "trusted_image_certificates",
})  # fmt: skip
HINT_KEYS = ("os:scheduler_hints", "OS-SCH-HNT:scheduler_hints")


def _image_id(ref: Any) -> str:
    if not isinstance(ref, str) or not ref:
        raise HTTPFault.bad_request("Invalid imageRef provided.")
    candidate = ref.rstrip("/").rsplit("/", 1)[-1]
    if not UUID.match(candidate):
        raise HTTPFault.bad_request("Invalid imageRef provided.")
    return str(uuid.UUID(candidate))


def _flavor(request: web.Request, who: Authenticated, ref: Any) -> FlavorSnapshot:
    if isinstance(ref, int) and not isinstance(ref, bool):
        ref = str(ref)
    if not isinstance(ref, str) or not ref:
        raise HTTPFault.bad_request("Invalid flavorRef provided.")
    flavor_id = ref.rstrip("/").rsplit("/", 1)[-1]
    try:
        flavor = flavors.find(compute(request).state, flavor_id)
    except NotFound:
        raise HTTPFault.bad_request("Invalid flavorRef provided.") from None
    if not flavors.visible(flavor, who.project_id, is_admin(who)):
        raise HTTPFault.bad_request("Invalid flavorRef provided.")
    snapshot = flavor.snapshot()
    refuse_unbuilt_flavor(snapshot)
    return snapshot


def _networks(request: web.Request, data: dict[str, Any]) -> list[dict[str, str]]:
    networks = data.get("networks")
    if networks is None:
        if v(request) >= (2, 37):
            raise HTTPFault.bad_request("Invalid input: 'networks' is a required property")
        return [{"auto": "true"}]
    if networks == "auto":
        return [{"auto": "true"}]
    if networks == "none":
        return []
    if isinstance(networks, str):
        raise invalid("networks", networks, "'auto' or 'none' or a list of networks")
    if not isinstance(networks, list):
        raise invalid("networks", networks, "It must be a list")
    found: list[dict[str, str]] = []
    for item in networks:
        if not isinstance(item, dict) or not item:
            raise invalid("networks", item, "Each network is an object")
        for key, value in item.items():
            if key not in ("uuid", "port", "fixed_ip", "tag") or not isinstance(value, str):
                raise invalid(f"networks.{key}", value, "Bad network attribute")
        if "uuid" in item and not UUID.match(item["uuid"]):
            raise HTTPFault.bad_request(
                f"Bad networks format: network uuid is not in proper format ({item['uuid']})"
            )
        found.append(dict(item))
    return found


def _security_groups(data: dict[str, Any]) -> list[str]:
    groups = data.get("security_groups")
    if groups is None:
        return []
    if not isinstance(groups, list) or not all(
        isinstance(g, dict) and set(g) == {"name"} and isinstance(g["name"], str) and g["name"]
        for g in groups
    ):
        raise invalid("security_groups", groups, "It must be a list of {'name': ...} objects")
    return list(dict.fromkeys(g["name"] for g in groups))


def _metadata(data: dict[str, Any]) -> dict[str, str]:
    metadata = data.get("metadata", {})
    if not isinstance(metadata, dict):
        raise invalid("metadata", metadata, "It must be an object")
    for key, value in metadata.items():
        if not 1 <= len(key) <= 255:
            raise invalid("metadata", key, "Keys are 1 to 255 characters")
        if not isinstance(value, str) or len(value) > 255:
            raise invalid(f"metadata.{key}", value, "Values are strings of at most 255 characters")
    return dict(metadata)


#: The strings Nova's boolean parameters accept for true and for false.
TRUE_WORDS = frozenset({"True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes"})
FALSE_WORDS = frozenset({"False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"})


def _config_drive(data: dict[str, Any]) -> bool:
    raw = data.get("config_drive", False)
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw in TRUE_WORDS | FALSE_WORDS:
        return raw in TRUE_WORDS
    raise invalid("config_drive", raw, "It must be a boolean")


def _user_data(data: dict[str, Any]) -> str | None:
    raw = data.get("user_data")
    if raw is None:
        return None
    if not isinstance(raw, str) or len(raw) > MAX_USER_DATA:
        raise HTTPFault.bad_request("User data needs to be valid base 64.")
    try:
        base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPFault.bad_request("User data needs to be valid base 64.") from None
    return raw


def _hints(body: dict[str, Any]) -> dict[str, list[str]]:
    hints: dict[str, list[str]] = {}
    for key in HINT_KEYS:
        raw = body.get(key)
        if raw is None:
            continue
        if not isinstance(raw, dict):
            raise invalid(key, raw, "It must be an object")
        for name, value in raw.items():
            values = value if isinstance(value, list) else [value]
            if not all(isinstance(item, str) for item in values):
                raise invalid(f"{key}.{name}", value, "Hints are strings or lists of strings")
            if name in ("group", "same_host", "different_host") and not all(
                UUID.match(x) for x in values
            ):
                raise invalid(f"{key}.{name}", value, "It must be a UUID or a list of UUIDs")
            hints[name] = list(values)
    return hints


def _placement(
    request: web.Request, who: Authenticated, data: dict[str, Any]
) -> tuple[str | None, str | None]:
    """The requested availability zone and (admins) host, from ``zone:host[:node]``."""
    zone = string(data, "availability_zone", nullable=True)
    host = string(data, "host")
    if zone and ":" in zone:
        zone, _, rest = zone.partition(":")
        host = rest.split(":", 1)[0] or host
    node = string(data, "hypervisor_hostname")
    if node:
        # Each Cairn host is one hypervisor named after it (os-hypervisors), so
        # asking for a node is asking for its host.
        if v(request) < (2, 74):
            raise HTTPFault.bad_request("Invalid input: 'hypervisor_hostname' needs 2.74")
        if host and host != node:
            raise HTTPFault.bad_request(f"Compute host {host} has no hypervisor {node}.")
        if not compute(request).state.hosts.get(node):
            raise HTTPFault.bad_request(f"Hypervisor hostname {node} could not be found.")
        host = node
    if host and not allowed(request, who, "os_compute_api:servers:create:forced_host", {}):
        raise HTTPFault(
            403, "Policy doesn't allow os_compute_api:servers:create:forced_host to be performed."
        )
    state = compute(request).state
    if zone and not any(h.availability_zone == zone for h in state.hosts.values()):
        raise HTTPFault.bad_request(f"The requested availability zone is not available: {zone}")
    if host and host not in state.hosts:
        raise HTTPFault.bad_request(f"Compute host {host} could not be found.")
    return zone or None, host or None


async def boot_request(
    request: web.Request, body: dict[str, Any], project_id: str
) -> tuple[BootRequest, bool]:
    """The boot request of ``body`` (and whether to answer with the reservation id)."""
    who = caller(request)
    data = body["server"]
    unknown = sorted(set(data) - KNOWN_KEYS)
    if unknown:
        raise HTTPFault.bad_request(
            f"Invalid input for field/attribute server. Additional properties are not "
            f"allowed ({', '.join(repr(k) for k in unknown)} were unexpected)"
        )
    refuse_unbuilt_boot(data)
    name = string(data, "name", required=True, min_length=1) or ""
    if name != name.strip():
        raise invalid("name", name, "Leading and trailing whitespace is not allowed")
    description = None
    if "description" in data:
        if v(request) < (2, 19):
            raise HTTPFault.bad_request("Invalid input: 'description' needs microversion 2.19")
        description = string(data, "description", nullable=True)
    flavor = _flavor(request, who, data.get("flavorRef"))
    volumes = block_devices.mappings(data)
    backed = block_devices.volume_backed(volumes)
    image_id = ""
    if not backed or data.get("imageRef"):
        if "imageRef" not in data:
            raise HTTPFault.bad_request("Invalid input: 'imageRef' is a required property")
        image_id = _image_id(data["imageRef"])
    min_count = integer(data, "min_count", 1, minimum=1)
    max_count = integer(data, "max_count", min_count, minimum=1)
    if min_count > max_count:
        raise HTTPFault.bad_request("min_count must be <= max_count")
    if volumes and max_count > 1:
        raise HTTPFault.bad_request("Cannot attach one or more volumes to multiple instances")
    state = compute(request).state
    max_count = _bounded_count(state, project_id, min_count, max_count, flavor)
    key_name = string(data, "key_name", nullable=True)
    public_key = None
    if key_name is not None:
        keypair = state.keypairs.get(who.user_id, {}).get(key_name)
        if keypair is None:
            raise HTTPFault.bad_request("Invalid key_name provided.")
        public_key = keypair.public_key
    networks = _networks(request, data)
    if max_count > 1 and any("port" in n for n in networks):
        raise HTTPFault.bad_request("Unable to launch multiple instances with a single configured "
                                    "port ID. Please launch your instance one by one with "
                                    "different ports.")  # fmt: skip
    security_groups = _security_groups(data)
    if security_groups and networks == []:
        raise HTTPFault.bad_request("Security groups need a network: the server has none.")
    metadata = _metadata(data)
    user_data = _user_data(data)
    hints = _hints(body)
    zone, host = _placement(request, who, data)
    return_reservation = data.get("return_reservation_id", False)
    if not isinstance(return_reservation, bool):
        raise invalid("return_reservation_id", return_reservation, "It must be a boolean")
    access_v4, access_v6 = access_ips(data)
    boot_tags_ = boot_tags(request, data)
    config_drive = _config_drive(data)

    async def image_of(ident: str, wanted: FlavorSnapshot) -> ImageSnapshot:
        return await _image(request, ident, who.token, wanted, volume=True)

    boot_volumes = await block_devices.prepare(
        request, volumes, who.token, config_drive=config_drive, image_of=image_of, flavor=flavor
    )
    if boot_volumes.image is not None:
        image = boot_volumes.image  # volume-backed: the image is the volume's
    else:
        image = await _image(request, image_id, who.token, flavor)
    request_body = BootRequest(
        server_ids=[str(uuid.uuid4()) for _ in range(max_count)], project_id=project_id,
        user_id=who.user_id, name=name, flavor=flavor, image=image, created_at="",
        reservation_id=f"r-{uuid.uuid4().hex[:8]}", min_count=min_count,
        description=description, key_name=key_name, public_key=public_key,
        user_data=user_data, metadata=metadata, availability_zone=zone, networks=networks,
        scheduler_hints=hints, requested_host=host, security_groups=security_groups,
        config_drive=config_drive, access_ip_v4=access_v4, access_ip_v6=access_v6,
        tags=boot_tags_, block_devices=boot_volumes.entries,
    )  # fmt: skip
    return request_body, return_reservation


def _bounded_count(
    state: ComputeState, project_id: str, min_count: int, max_count: int, flavor: FlavorSnapshot
) -> int:
    """``max_count`` cut to what could ever be admitted, before any server id
    is made for it (``max_count`` 10**9 must not cost memory): no more than
    the project's instances quota, or :data:`MAX_COUNT` when it has none. As
    in Nova, a ``max_count`` above the quota is reduced while ``min_count``
    fits; a ``min_count`` that cannot fit is refused here as the quota would."""
    limit = quota.limits(state, project_id)["instances"]
    bound = MAX_COUNT if limit == quota.UNLIMITED else min(limit, MAX_COUNT)
    if min_count > bound:
        if limit != quota.UNLIMITED and min_count > limit:
            quota.check_servers(state, project_id, min_count, flavor.vcpus, flavor.ram_mb)
        raise HTTPFault.bad_request(f"min_count may be at most {MAX_COUNT}")
    return min(max_count, bound)


async def _image(
    request: web.Request, image_id: str, token: str, flavor: FlavorSnapshot, volume: bool = False
) -> ImageSnapshot:
    """The image to boot; ``volume``: copied to a volume (the flavor's disk does not hold it)."""
    try:
        image = await compute(request).images.get(image_id, token)
    except NotFound:
        raise HTTPFault.bad_request(f"Image {image_id} could not be found.") from None
    if image.min_ram_mb > flavor.ram_mb:
        raise HTTPFault.bad_request("Flavor's memory is too small for requested image.")
    if not volume and flavor.disk_gb and image.min_disk_gb > flavor.disk_gb:
        raise HTTPFault.bad_request("Flavor's disk is too small for requested image.")
    return image
