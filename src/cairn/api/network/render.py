"""Neutron's JSON for a resource: its attributes, the standard attributes, and
what is derived from other resources (a network's subnets, a group's rules, a
floating IP's port details), with admin-only attributes left out for others."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cairn.projections.network import NetworkState, Resource

#: attributes only admins see (Neutron's policy: provider and binding details)
ADMIN_ONLY = (
    "provider:network_type",
    "provider:physical_network",
    "provider:segmentation_id",
    "binding:host_id",
    "binding:profile",
    "binding:vif_type",
    "binding:vif_details",
)
#: resources whose JSON has no project (Neutron's port forwardings)
NO_PROJECT = ("port_forwarding",)


def timestamp(when: datetime | None) -> str | None:
    return None if when is None else when.strftime("%Y-%m-%dT%H:%M:%SZ")


def render(state: NetworkState, resource: Resource, *, admin: bool) -> dict[str, Any]:
    body: dict[str, Any] = {"id": resource.id}
    body.update(resource.attributes)
    if not admin:
        for name in ADMIN_ONLY:
            body.pop(name, None)
    if resource.kind not in NO_PROJECT:
        body["project_id"] = body["tenant_id"] = resource.project_id
    body["created_at"] = timestamp(resource.created_at)
    body["updated_at"] = timestamp(resource.updated_at)
    body["revision_number"] = resource.revision_number
    extra = _DERIVED.get(resource.kind)
    if extra is not None:
        extra(state, resource, body, admin)
    if resource.kind == "port_forwarding":
        for name in ("created_at", "updated_at", "revision_number", "tags"):
            body.pop(name, None)
    return body


def _network(state: NetworkState, r: Resource, body: dict[str, Any], admin: bool) -> None:
    body["subnets"] = sorted(
        s.id for s in state.of("subnet").values() if s.get("network_id") == r.id
    )


def _security_group(state: NetworkState, r: Resource, body: dict[str, Any], admin: bool) -> None:
    rules = [
        rule
        for rule in state.of("security_group_rule").values()
        if rule.get("security_group_id") == r.id
    ]
    body["security_group_rules"] = [
        render(state, rule, admin=admin) for rule in sorted(rules, key=lambda x: x.id)
    ]


def _floatingip(state: NetworkState, r: Resource, body: dict[str, Any], admin: bool) -> None:
    port = state.find("port", r.get("port_id") or "")
    body["port_details"] = (
        None
        if port is None
        else {
            "name": port.get("name"),
            "network_id": port.get("network_id"),
            "mac_address": port.get("mac_address"),
            "admin_state_up": port.get("admin_state_up"),
            "status": port.get("status"),
            "device_id": port.get("device_id"),
            "device_owner": port.get("device_owner"),
        }
    )
    body["port_forwardings"] = [
        {k: f.get(k) for k in ("protocol", "internal_ip_address", "internal_port", "external_port")}
        for f in state.of("port_forwarding").values()
        if f.get("floatingip_id") == r.id
    ]


def _port(state: NetworkState, r: Resource, body: dict[str, Any], admin: bool) -> None:
    body.setdefault("binding:vnic_type", "normal")


_DERIVED = {
    "network": _network,
    "security_group": _security_group,
    "floatingip": _floatingip,
    "port": _port,
}
