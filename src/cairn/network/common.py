"""What every networking decider shares: finding resources the caller may see,
new ids, MAC addresses, and Neutron's device owners."""

from __future__ import annotations

import random
import uuid

from cairn.network.access import Caller, visible
from cairn.network.errors import NotFound
from cairn.network.plan import Plan
from cairn.projections.network import Resource

#: Neutron's names for what a port serves
DHCP = "network:dhcp"
ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"
FLOATING_IP = "network:floatingip"
#: ports a user may not delete or change the owner of through the port API
NETWORK_OWNED = (DHCP, ROUTER_INTERFACE, ROUTER_GATEWAY, FLOATING_IP)

#: how Neutron names the not-found error of each kind
NOT_FOUND = {
    "network": ("NetworkNotFound", "Network {} could not be found."),
    "subnet": ("SubnetNotFound", "Subnet {} could not be found."),
    "port": ("PortNotFound", "Port {} could not be found."),
    "router": ("RouterNotFound", "Router {} could not be found"),
    "floatingip": ("FloatingIPNotFound", "Floating IP {} could not be found"),
    "security_group": ("SecurityGroupNotFound", "Security group {} does not exist"),
    "security_group_rule": ("SecurityGroupRuleNotFound", "Security group rule {} does not exist"),
    "subnetpool": ("SubnetPoolNotFound", "Subnet pool {} could not be found."),
    "port_forwarding": ("PortForwardingNotFound", "Port Forwarding {} could not be found."),
}


def not_found(kind: str, resource_id: str) -> NotFound:
    type_, message = NOT_FOUND[kind]
    return NotFound(message.format(resource_id), type_)


def find(plan: Plan, caller: Caller, kind: str, resource_id: str) -> Resource:
    """The resource, if it exists and ``caller`` may see it; else its not-found error."""
    found = plan.find(kind, resource_id)
    if found is None or not visible(plan.state, caller, found):
        raise not_found(kind, resource_id)
    return found


def new_id() -> str:
    return str(uuid.uuid4())


def new_mac(taken: set[str]) -> str:
    """A MAC in Neutron's default range (``fa:16:3e``) not in ``taken``."""
    while True:
        tail = ":".join(f"{random.randrange(256):02x}" for _ in range(3))
        mac = f"fa:16:3e:{tail}"
        if mac not in taken:
            return mac
