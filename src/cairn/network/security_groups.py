"""Security groups and their rules.

Every project gets a ``default`` group the first time it needs one (its first
port, or its first look at its groups), with Neutron's default rules: all
egress, and ingress from members of the same group, for IPv4 and IPv6. The
group's id is derived from the project's, so two processes creating it at once
both aim at one new stream and only one append wins. A new group gets the two
egress rules; rules live on their group's stream, so a duplicate check and the
rule it guards are decided at one version.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Any

from cairn.network import quota
from cairn.network.access import Caller, editable
from cairn.network.common import find, new_id, not_found
from cairn.network.config import NetworkConfig
from cairn.network.errors import Conflict, Invalid, NotFound
from cairn.network.plan import Plan
from cairn.projections.network import Resource

_DEFAULT_NAMESPACE = uuid.UUID("0b7f3f43-52a9-4d8c-9a3c-6b0b2f6f1c21")
PROTOCOLS = {
    "tcp": 6,
    "udp": 17,
    "icmp": 1,
    "icmpv6": 58,
    "ipv6-icmp": 58,
    "sctp": 132,
    "gre": 47,
    "esp": 50,
    "ah": 51,
    "igmp": 2,
    "dccp": 33,
    "udplite": 136,
    "ipip": 4,
    "ipv6-encap": 41,
    "vrrp": 112,
    "pgm": 113,
    "rsvp": 46,
    "ospf": 89,
}
PORTED = ("tcp", "udp", "sctp", "dccp", "udplite", "6", "17", "132", "33", "136")
ICMP = ("icmp", "icmpv6", "ipv6-icmp", "1", "58")
RULE_KEYS = (
    "direction",
    "ethertype",
    "protocol",
    "port_range_min",
    "port_range_max",
    "remote_ip_prefix",
    "remote_group_id",
    "remote_address_group_id",
)


def default_id(project_id: str) -> str:
    return str(uuid.uuid5(_DEFAULT_NAMESPACE, project_id))


def not_found_group(group_id: str) -> NotFound:
    return not_found("security_group", group_id)


def ensure_default(plan: Plan, config: NetworkConfig, project_id: str) -> Resource:
    group_id = default_id(project_id)
    found = plan.find("security_group", group_id)
    if found is not None:
        return found
    group = plan.create(
        "security_group",
        group_id,
        project_id,
        {
            "name": "default",
            "description": "Default security group",
            "stateful": True,
            "tags": [],
            "shared": False,
        },
    )
    for ethertype in ("IPv4", "IPv6"):
        _add_rule(plan, group, {"direction": "egress", "ethertype": ethertype})
        _add_rule(
            plan,
            group,
            {"direction": "ingress", "ethertype": ethertype, "remote_group_id": group_id},
        )
    del config  # the default group and its rules are not counted on the quota, as in Neutron
    return group


def _rule_values(group: Resource, attrs: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "security_group_id": group.id,
        "direction": "ingress",
        "ethertype": "IPv4",
        "protocol": None,
        "port_range_min": None,
        "port_range_max": None,
        "remote_ip_prefix": None,
        "remote_group_id": None,
        "remote_address_group_id": None,
        "description": "",
        "tags": [],
        "belongs_to_default_sg": group.get("name") == "default",
        "normalized_cidr": None,
    }
    values.update(attrs)
    return values


def _add_rule(plan: Plan, group: Resource, attrs: dict[str, Any]) -> Resource:
    values = _rule_values(group, attrs)
    if values["remote_ip_prefix"]:
        values["normalized_cidr"] = values["remote_ip_prefix"]
    return plan.create("security_group_rule", new_id(), group.project_id, values)


def create(
    plan: Plan, caller: Caller, config: NetworkConfig, attrs: dict[str, Any], project_id: str
) -> Resource:
    ensure_default(plan, config, project_id)
    if attrs.get("name") == "default":
        raise Conflict(
            "Default security group already exists.", "SecurityGroupDefaultAlreadyExists"
        )
    values: dict[str, Any] = {
        "name": "",
        "description": "",
        "stateful": True,
        "tags": [],
        "shared": False,
    }
    values.update(attrs)
    group = plan.create("security_group", new_id(), project_id, values)
    quota.take(plan, config.quotas, project_id, "security_group")
    for ethertype in ("IPv4", "IPv6"):
        _add_rule(plan, group, {"direction": "egress", "ethertype": ethertype})
    quota.take(plan, config.quotas, project_id, "security_group_rule")
    return group


def update(plan: Plan, caller: Caller, group_id: str, attrs: dict[str, Any]) -> Resource:
    group = find(plan, caller, "security_group", group_id)
    if not editable(caller, group):
        raise not_found_group(group_id)
    if attrs.get("name") == "default" and group.get("name") != "default":
        raise Conflict(
            "Default security group already exists.", "SecurityGroupDefaultAlreadyExists"
        )
    if group.get("name") == "default" and attrs.get("name", "default") != "default":
        raise Conflict(
            "Updating default security group not allowed.", "SecurityGroupCannotUpdateDefault"
        )
    changing_state = "stateful" in attrs and attrs["stateful"] != group.get("stateful")
    if changing_state and any(
        group_id in (p.get("security_groups") or []) for p in plan.resources("port")
    ):
        raise Conflict(
            f"Security group {group_id} is in use: its statefulness cannot change.",
            "SecurityGroupInUse",
        )
    changes = {k: v for k, v in attrs.items() if group.get(k) != v}
    plan.update(group, changes)
    return group


def delete(plan: Plan, caller: Caller, group_id: str) -> None:
    group = find(plan, caller, "security_group", group_id)
    if not editable(caller, group):
        raise not_found_group(group_id)
    if group.id == default_id(group.project_id) and not caller.is_admin:
        raise Conflict(
            "Insufficient rights for removing default security group.",
            "SecurityGroupCannotRemoveDefault",
        )
    if any(group_id in (p.get("security_groups") or []) for p in plan.resources("port")):
        raise Conflict(f"Security Group {group_id} in use.", "SecurityGroupInUse")
    # Its own rules go, and (Neutron's cascade on remote_group_id) every rule of
    # another group that named it as its remote group.
    owners = {group.project_id}
    for rule in plan.resources("security_group_rule"):
        if group_id in (rule.get("security_group_id"), rule.get("remote_group_id")):
            owners.add(rule.project_id)
            plan.delete(rule)
    plan.delete(group)
    plan.record_usage(group.project_id, "security_group")
    for owner in sorted(owners):
        plan.record_usage(owner, "security_group_rule")


def _protocol(value: Any, ethertype: str) -> str | None:
    if value in (None, "", "any"):
        return None
    text = str(value).lower()
    if text.isdigit():
        if not 0 <= int(text) <= 255:
            raise Invalid(
                f"Security group rule protocol {value} not supported. Only protocol "
                f"values {sorted(PROTOCOLS)} and integer representations [0 to 255] "
                f"are supported.",
                "SecurityGroupRuleInvalidProtocol",
            )
        return text
    if text not in PROTOCOLS:
        raise Invalid(
            f"Security group rule protocol {value} not supported. Only protocol "
            f"values {sorted(PROTOCOLS)} and integer representations [0 to 255] are "
            f"supported.",
            "SecurityGroupRuleInvalidProtocol",
        )
    del ethertype  # Neutron keeps "icmp" on an IPv6 rule as given
    return text


def _ports(values: dict[str, Any]) -> None:
    low, high, protocol = values["port_range_min"], values["port_range_max"], values["protocol"]
    if low is None and high is None:
        return
    if protocol is None:
        raise Invalid(
            "Must also specify protocol if port range is given.",
            "SecurityGroupProtocolRequiredWithPorts",
        )
    if protocol in ICMP:
        for name, value in (("type", low), ("code", high)):
            if value is not None and not 0 <= value <= 255:
                raise Invalid(
                    f"Invalid value for ICMP {name} (port-range-"
                    f"{'min' if name == 'type' else 'max'}): {value}.",
                    "SecurityGroupInvalidIcmpValue",
                )
        if low is None and high is not None:
            raise Invalid(
                "ICMP code (port-range-max) 0 is provided but ICMP type "
                "(port-range-min) is missing.",
                "SecurityGroupMissingIcmpType",
            )
        return
    if protocol not in PORTED:
        raise Invalid(
            f"Invalid protocol {protocol} for port range, only supported for TCP, "
            f"UDP, UDPLITE, SCTP and DCCP.",
            "SecurityGroupInvalidProtocolForPort",
        )
    if low is None:
        raise Invalid(
            "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            "SecurityGroupInvalidPortRange",
        )
    if high is None:
        values["port_range_max"] = high = low
    for port in (low, high):
        if not 1 <= port <= 65535:
            raise Invalid(f"Invalid value for port {port}.", "SecurityGroupInvalidPortValue")
    if low > high:
        raise Invalid(
            "For TCP/UDP protocols, port_range_min must be <= port_range_max",
            "SecurityGroupInvalidPortRange",
        )


def create_rule(
    plan: Plan, caller: Caller, config: NetworkConfig, attrs: dict[str, Any]
) -> Resource:
    group = find(plan, caller, "security_group", attrs["security_group_id"])
    if not editable(caller, group):
        raise not_found_group(group.id)
    values = _rule_values(group, attrs)
    values["belongs_to_default_sg"] = group.id == default_id(group.project_id)
    if values["direction"] not in ("ingress", "egress"):
        raise Invalid(
            f"Invalid input for direction. Reason: {values['direction']} is not in "
            f"['ingress', 'egress']."
        )
    if values["ethertype"] not in ("IPv4", "IPv6"):
        raise Invalid(
            f"Invalid input for ethertype. Reason: {values['ethertype']} is not in "
            f"['IPv4', 'IPv6']."
        )
    values["protocol"] = _protocol(values["protocol"], values["ethertype"])
    _ports(values)
    if values["remote_ip_prefix"] and values["remote_group_id"]:
        raise Invalid(
            "Only one of remote_ip_prefix or remote_group_id may be provided.",
            "SecurityGroupRemoteGroupAndRemoteIpPrefix",
        )
    prefix = values["remote_ip_prefix"]
    if prefix:
        try:
            net = ipaddress.ip_network(prefix, strict=False)
        except ValueError:
            raise Invalid(
                f"Invalid input for remote_ip_prefix. Reason: '{prefix}' is not a valid IP subnet."
            ) from None
        if f"IPv{net.version}" != values["ethertype"]:
            raise Invalid(
                f"Conflicting value ethertype {values['ethertype']} for CIDR {prefix}",
                "SecurityGroupConflictingEthertype",
            )
        values["normalized_cidr"] = str(net)
    remote = values["remote_group_id"]
    if remote:
        remote_group = plan.find("security_group", remote)
        if remote_group is None or not (
            caller.is_admin or remote_group.project_id == group.project_id
        ):
            raise not_found_group(remote)
    wanted = {k: values[k] for k in RULE_KEYS}
    for rule in plan.resources("security_group_rule"):
        if rule.get("security_group_id") != group.id:
            continue
        same = {k: rule.get(k) for k in RULE_KEYS}
        if same == wanted or _equivalent(same, wanted):
            raise Conflict(
                f"Security group rule already exists. Rule id is {rule.id}.",
                "SecurityGroupRuleExists",
            )
    rule = plan.create("security_group_rule", new_id(), group.project_id, values)
    quota.take(plan, config.quotas, group.project_id, "security_group_rule")
    return rule


def _equivalent(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Rules that match the same packets: a prefix of "everything" is no prefix."""

    def norm(rule: dict[str, Any]) -> dict[str, Any]:
        rule = dict(rule)
        if rule["remote_ip_prefix"] in ("0.0.0.0/0", "::/0"):
            rule["remote_ip_prefix"] = None
        return rule

    return norm(a) == norm(b)


def delete_rule(plan: Plan, caller: Caller, rule_id: str) -> None:
    rule = find(plan, caller, "security_group_rule", rule_id)
    if not editable(caller, rule):
        raise not_found("security_group_rule", rule_id)
    plan.delete(rule)
    plan.record_usage(rule.project_id, "security_group_rule")


def member_addresses(plan: Plan, group_id: str) -> list[str]:
    return [
        fixed["ip_address"]
        for port in plan.resources("port")
        if group_id in (port.get("security_groups") or [])
        for fixed in port.get("fixed_ips") or []
    ]
