"""Neutron's resource attributes as data: who may set each, and how it is checked.

Neutron describes every resource by an attribute map (``allow_post``,
``allow_put``, a validator, a default); requests are checked against it
before anything else happens. :data:`ATTRIBUTES` is Cairn's map, and
:func:`parse` applies it: an unknown attribute, one that may not be set by
this method, or a value of the wrong shape is a 400 ``HTTPBadRequest`` worded
as Neutron words it, before any decider runs. Defaults are the deciders'
business (they depend on other resources: a network's ``port_security_enabled``
is its ports' default).
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from cairn.network.errors import Invalid

Check = Callable[[str, Any], Any]

UUID = re.compile(
    r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?"
    r"[0-9a-fA-F]{12}$"
)
MAC = re.compile(r"^([0-9a-fA-F]{2}[:-]){5}[0-9a-fA-F]{2}$")
NAME_MAX = 255
DESCRIPTION_MAX = 255


def bad(name: str, value: Any, reason: str) -> Invalid:
    return Invalid(f"Invalid input for {name}. Reason: {reason}", "HTTPBadRequest")


def string(limit: int = NAME_MAX) -> Check:
    def check(name: str, value: Any) -> Any:
        if not isinstance(value, str):
            raise bad(name, value, f"'{value}' is not a valid string.")
        if len(value) > limit:
            raise bad(name, value, f"'{value}' exceeds maximum length of {limit}.")
        return value

    return check


def nullable(inner: Check) -> Check:
    def check(name: str, value: Any) -> Any:
        return None if value is None else inner(name, value)

    return check


def boolean(name: str, value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "1", "0"):
        return value.lower() in ("true", "1")
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    raise bad(name, value, f"'{value}' cannot be converted to boolean")


def integer(low: int | None = None, high: int | None = None) -> Check:
    def check(name: str, value: Any) -> Any:
        if isinstance(value, bool):
            raise bad(name, value, f"'{value}' is not an integer")
        if (
            isinstance(value, str)
            and value.strip().lstrip("-").isascii()
            and value.strip().lstrip("-").isdigit()
        ):
            value = int(value)
        if not isinstance(value, int):
            raise bad(name, value, f"'{value}' is not an integer")
        if low is not None and value < low:
            raise bad(name, value, f"'{value}' should be greater than or equal to {low}")
        if high is not None and value > high:
            raise bad(name, value, f"'{value}' should be lower than or equal to {high}")
        return value

    return check


def uuid(name: str, value: Any) -> Any:
    if not isinstance(value, str) or not UUID.match(value):
        raise bad(name, value, f"'{value}' is not a valid UUID")
    return value


def ip_address(name: str, value: Any) -> Any:
    try:
        if not isinstance(value, str):
            raise ValueError
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise bad(name, value, f"'{value}' is not a valid IP address") from None


def cidr(name: str, value: Any) -> Any:
    try:
        if not isinstance(value, str):
            raise ValueError
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise bad(name, value, f"'{value}' is not a valid IP subnet") from None
    return value


def ip_or_cidr(name: str, value: Any) -> Any:
    if isinstance(value, str) and "/" in value:
        return cidr(name, value)
    return ip_address(name, value)


def mac(name: str, value: Any) -> Any:
    if (
        not isinstance(value, str)
        or not MAC.match(value)
        or value.lower() in ("00:00:00:00:00:00", "ff:ff:ff:ff:ff:ff")
        or int(value[:2], 16) & 1
    ):
        raise bad(name, value, f"'{value}' is not a valid MAC address")
    return value.lower().replace("-", ":")


def choice(*values: Any) -> Check:
    def check(name: str, value: Any) -> Any:
        if value not in values:
            raise bad(name, value, f"{value} is not in {list(values)}")
        return value

    return check


def list_of(inner: Check, *, limit: int | None = None, unique: bool = False) -> Check:
    def check(name: str, value: Any) -> Any:
        if not isinstance(value, list):
            raise bad(name, value, f"'{value}' is not a list")
        if limit is not None and len(value) > limit:
            raise bad(name, value, f"'{value}' has more than {limit} items")
        items = [inner(name, item) for item in value]
        if unique and len({str(i) for i in items}) != len(items):
            raise bad(name, value, f"Duplicate items in the list: '{value}'")
        return items

    return check


def dict_of(keys: dict[str, tuple[Check, bool]]) -> Check:
    """An object with these keys (``key: (check, required)``), no others."""

    def check(name: str, value: Any) -> Any:
        if not isinstance(value, dict):
            raise bad(name, value, f"'{value}' is not a dictionary")
        unknown = sorted(set(value) - set(keys))
        if unknown:
            raise bad(name, value, f"Unrecognized keys in {name}: {', '.join(unknown)}")
        result = {}
        for key, (inner, required) in keys.items():
            if key not in value:
                if required:
                    raise bad(name, value, f"Missing key {key} in {name}")
                continue
            result[key] = inner(f"{name}:{key}", value[key])
        return result

    return check


def any_dict(name: str, value: Any) -> Any:
    if not isinstance(value, dict):
        raise bad(name, value, f"'{value}' is not a dictionary")
    return value


def protocol(name: str, value: Any) -> Any:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    raise bad(name, value, f"'{value}' is not a valid protocol")


def tags(name: str, value: Any) -> Any:
    return list_of(string(255), unique=True)(name, value)


@dataclass(frozen=True, slots=True)
class Attr:
    check: Check
    post: bool = True
    put: bool = True
    required: bool = False


NAME = Attr(string())
DESCRIPTION = Attr(string(DESCRIPTION_MAX))
PROJECT = Attr(string(255), put=False)
FIXED_IP = dict_of({"subnet_id": (uuid, False), "ip_address": (ip_address, False)})
PAIR = dict_of({"ip_address": (ip_or_cidr, True), "mac_address": (mac, False)})
ROUTE = dict_of({"destination": (cidr, True), "nexthop": (ip_address, True)})
POOL = dict_of({"start": (ip_address, True), "end": (ip_address, True)})
GATEWAY_INFO = nullable(
    dict_of(
        {
            "network_id": (uuid, False),  # {} clears the gateway
            "enable_snat": (boolean, False),
            "external_fixed_ips": (list_of(FIXED_IP), False),
            "qos_policy_id": (nullable(uuid), False),
        }
    )
)

ATTRIBUTES: dict[str, dict[str, Attr]] = {
    "network": {
        "name": NAME,
        "description": DESCRIPTION,
        "admin_state_up": Attr(boolean),
        "shared": Attr(boolean),
        "router:external": Attr(boolean),
        "mtu": Attr(integer(68)),
        "port_security_enabled": Attr(boolean),
        "is_default": Attr(boolean),
        "availability_zone_hints": Attr(list_of(string(255)), put=False),
        "provider:network_type": Attr(string(255)),
        "provider:physical_network": Attr(nullable(string(64))),
        "provider:segmentation_id": Attr(nullable(integer(0))),
        "dns_domain": Attr(string(255)),
        "qos_policy_id": Attr(nullable(uuid)),
        "project_id": PROJECT,
        "tenant_id": PROJECT,
    },
    "subnet": {
        "name": NAME,
        "description": DESCRIPTION,
        "network_id": Attr(uuid, required=True, put=False),
        "ip_version": Attr(choice(4, 6), put=False),
        "cidr": Attr(cidr, put=False),
        "prefixlen": Attr(integer(0, 128), put=False),
        "subnetpool_id": Attr(nullable(uuid), put=False),
        "use_default_subnetpool": Attr(boolean, put=False),
        "gateway_ip": Attr(nullable(ip_address)),
        "allocation_pools": Attr(list_of(POOL)),
        "dns_nameservers": Attr(list_of(ip_address)),
        "host_routes": Attr(list_of(ROUTE)),
        "enable_dhcp": Attr(boolean),
        "ipv6_ra_mode": Attr(
            nullable(choice("slaac", "dhcpv6-stateful", "dhcpv6-stateless")), put=False
        ),
        "ipv6_address_mode": Attr(
            nullable(choice("slaac", "dhcpv6-stateful", "dhcpv6-stateless")), put=False
        ),
        "service_types": Attr(list_of(string(255))),
        "segment_id": Attr(nullable(uuid)),
        "dns_publish_fixed_ip": Attr(boolean),
        "project_id": PROJECT,
        "tenant_id": PROJECT,
    },
    "port": {
        "name": NAME,
        "description": DESCRIPTION,
        "network_id": Attr(uuid, required=True),
        "admin_state_up": Attr(boolean),
        "mac_address": Attr(mac),
        "fixed_ips": Attr(list_of(FIXED_IP)),
        "device_id": Attr(string(255)),
        "device_owner": Attr(string(255)),
        "security_groups": Attr(nullable(list_of(uuid, unique=True))),
        "allowed_address_pairs": Attr(nullable(list_of(PAIR))),
        "port_security_enabled": Attr(boolean),
        "binding:host_id": Attr(string(255)),
        "binding:vnic_type": Attr(choice("normal")),
        "binding:profile": Attr(any_dict),
        "propagate_uplink_status": Attr(boolean),
        "dns_name": Attr(string(255)),
        "qos_policy_id": Attr(nullable(uuid)),
        "project_id": PROJECT,
        "tenant_id": PROJECT,
    },
    "router": {
        "name": NAME,
        "description": DESCRIPTION,
        "admin_state_up": Attr(boolean),
        "external_gateway_info": Attr(GATEWAY_INFO),
        "routes": Attr(nullable(list_of(ROUTE)), post=False),
        "distributed": Attr(boolean),
        "ha": Attr(boolean),
        "availability_zone_hints": Attr(list_of(string(255)), put=False),
        "flavor_id": Attr(nullable(uuid), put=False),
        "project_id": PROJECT,
        "tenant_id": PROJECT,
    },
    "floatingip": {
        "floating_network_id": Attr(uuid, required=True, put=False),
        "floating_ip_address": Attr(ip_address, put=False),
        "subnet_id": Attr(nullable(uuid), put=False),
        "port_id": Attr(nullable(uuid)),
        "fixed_ip_address": Attr(nullable(ip_address)),
        "description": DESCRIPTION,
        "qos_policy_id": Attr(nullable(uuid)),
        "dns_name": Attr(string(255), put=False),
        "dns_domain": Attr(string(255), put=False),
        "project_id": PROJECT,
        "tenant_id": PROJECT,
    },
    "security_group": {
        "name": NAME,
        "description": DESCRIPTION,
        "stateful": Attr(boolean),
        "project_id": PROJECT,
        "tenant_id": PROJECT,
    },
    "security_group_rule": {
        "security_group_id": Attr(uuid, required=True, put=False),
        "direction": Attr(choice("ingress", "egress"), required=True, put=False),
        "ethertype": Attr(choice("IPv4", "IPv6"), put=False),
        "protocol": Attr(protocol, put=False),
        # ranges are the decider's: Neutron words them "Invalid value for port N"
        "port_range_min": Attr(nullable(integer()), put=False),
        "port_range_max": Attr(nullable(integer()), put=False),
        "remote_ip_prefix": Attr(nullable(cidr), put=False),
        # any text: a group that does not exist is a 404, as in Neutron
        "remote_group_id": Attr(nullable(string(255)), put=False),
        "description": Attr(string(DESCRIPTION_MAX), put=False),
        "project_id": PROJECT,
        "tenant_id": PROJECT,
    },
    "subnetpool": {
        "name": NAME,
        "description": DESCRIPTION,
        "prefixes": Attr(list_of(cidr), required=True),
        "default_prefixlen": Attr(integer(0, 128)),
        "min_prefixlen": Attr(integer(0, 128)),
        "max_prefixlen": Attr(integer(0, 128)),
        "shared": Attr(boolean, put=False),
        "is_default": Attr(boolean),
        "default_quota": Attr(nullable(integer(0))),
        "address_scope_id": Attr(nullable(uuid)),
        "project_id": PROJECT,
        "tenant_id": PROJECT,
    },
    "port_forwarding": {
        "internal_port_id": Attr(uuid, required=True),
        "internal_ip_address": Attr(ip_address, required=True),
        "internal_port": Attr(integer(1, 65535), required=True),
        "external_port": Attr(integer(1, 65535), required=True),
        "protocol": Attr(choice("tcp", "udp"), required=True),
        "description": DESCRIPTION,
    },
}

#: attributes Cairn accepts in the map but has not built: refused, never ignored
UNBUILT = {
    "qos_policy_id",
    "address_scope_id",
    "segment_id",
    "default_quota",
    "flavor_id",
    "propagate_uplink_status",
}


def parse(kind: str, body: Any, *, creating: bool) -> dict[str, Any]:
    """The attributes of one ``kind`` in ``body`` (the object under its key),
    checked; raises :class:`Invalid` worded as Neutron words it."""
    if not isinstance(body, dict):
        raise Invalid(f"Invalid input for {kind}: the body must be an object.", "HTTPBadRequest")
    spec = ATTRIBUTES[kind]
    unknown = sorted(k for k in body if k not in spec)
    if unknown:
        raise Invalid(f"Unrecognized attribute(s) '{', '.join(unknown)}'", "HTTPBadRequest")
    result: dict[str, Any] = {}
    for name, value in body.items():
        attr = spec[name]
        if (creating and not attr.post) or (not creating and not attr.put):
            method = "POST" if creating else "PUT"
            raise Invalid(f"Attribute '{name}' not allowed in {method}", "HTTPBadRequest")
        if name in UNBUILT and value not in (None, False, []):
            raise Invalid(
                f"Cairn's networking does not implement '{name}' yet; the request "
                f"is refused rather than ignored.",
                "HTTPBadRequest",
            )
        result[name] = attr.check(name, value)
    if creating:
        missing = [n for n, a in spec.items() if a.required and n not in result]
        if missing:
            raise Invalid(
                f"Failed to parse request. Required attribute '{missing[0]}' not specified",
                "HTTPBadRequest",
            )
    tenant, project = result.pop("tenant_id", None), result.pop("project_id", None)
    if tenant and project and tenant != project:
        raise Invalid("'project_id' and 'tenant_id' do not match", "HTTPBadRequest")
    owner = project or tenant
    if owner:
        result["project_id"] = owner
    return {k: v for k, v in result.items() if k not in UNBUILT}
