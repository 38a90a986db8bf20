"""Networking events (Neutron v2.0): networks, subnets, ports, routers, floating IPs,
security groups, subnet pools, port forwardings, address allocations and quotas.

Every Neutron resource has the same life: created with its attributes, updated
with the attributes that changed, deleted. Each kind has its own three event
types (``NetworkCreated``, ``PortUpdated``, ``RouterDeleted``, ...), so the log,
the stream filters (``type=Port*``) and the audit name what happened; their
payload is the same shape, the resource's Neutron attributes as a JSON object
(as Neutron's own API carries them), which the projection folds generically.

Streams: ``network-<id>``, ``subnet-<id>``, ``port-<id>``, ``router-<id>``,
``floatingip-<id>``, ``securitygroup-<id>`` (its rules too), ``subnetpool-<id>``
and ``netquota-<project>``. Two kinds of decision rest on a stream's version:

* IP addresses are allocated on the *subnet's* stream (:class:`AddressesAllocated`,
  :class:`AddressesReleased`), at the version the decision saw, in the same
  append as the port that takes them: two concurrent port creates can never be
  given one address.
* Every create and delete appends :class:`NetworkQuotaUsed` to the project's
  ``netquota-<project>`` stream at the version its quota check saw: concurrent
  creates of one project cannot both pass its limit.
"""

from __future__ import annotations

from typing import Any

from cairn.events.registry import DomainEvent, registry

#: Resource kinds, as Neutron names them in URLs' singular form.
KINDS = (
    "network",
    "subnet",
    "port",
    "router",
    "floatingip",
    "security_group",
    "security_group_rule",
    "subnetpool",
    "port_forwarding",
)


class ResourceCreated(DomainEvent, frozen=True):
    """A resource was created with these attributes (all of them, defaults filled)."""

    resource_id: str
    project_id: str
    attributes: dict[str, Any]


class ResourceUpdated(DomainEvent, frozen=True):
    """Some attributes of a resource changed: only those are here."""

    resource_id: str
    attributes: dict[str, Any]


class ResourceDeleted(DomainEvent, frozen=True):
    resource_id: str
    project_id: str = ""


@registry.event
class NetworkCreated(ResourceCreated, frozen=True):
    pass


@registry.event
class NetworkUpdated(ResourceUpdated, frozen=True):
    pass


@registry.event
class NetworkDeleted(ResourceDeleted, frozen=True):
    pass


@registry.event
class SubnetCreated(ResourceCreated, frozen=True):
    pass


@registry.event
class SubnetUpdated(ResourceUpdated, frozen=True):
    pass


@registry.event
class SubnetDeleted(ResourceDeleted, frozen=True):
    pass


@registry.event
class PortCreated(ResourceCreated, frozen=True):
    pass


@registry.event
class PortUpdated(ResourceUpdated, frozen=True):
    pass


@registry.event
class PortDeleted(ResourceDeleted, frozen=True):
    pass


@registry.event
class RouterCreated(ResourceCreated, frozen=True):
    pass


@registry.event
class RouterUpdated(ResourceUpdated, frozen=True):
    pass


@registry.event
class RouterDeleted(ResourceDeleted, frozen=True):
    pass


@registry.event
class FloatingIPCreated(ResourceCreated, frozen=True):
    pass


@registry.event
class FloatingIPUpdated(ResourceUpdated, frozen=True):
    pass


@registry.event
class FloatingIPDeleted(ResourceDeleted, frozen=True):
    pass


@registry.event
class SecurityGroupCreated(ResourceCreated, frozen=True):
    pass


@registry.event
class SecurityGroupUpdated(ResourceUpdated, frozen=True):
    pass


@registry.event
class SecurityGroupDeleted(ResourceDeleted, frozen=True):
    pass


@registry.event
class SecurityGroupRuleCreated(ResourceCreated, frozen=True):
    pass


@registry.event
class SecurityGroupRuleUpdated(ResourceUpdated, frozen=True):
    pass


@registry.event
class SecurityGroupRuleDeleted(ResourceDeleted, frozen=True):
    pass


@registry.event
class SubnetPoolCreated(ResourceCreated, frozen=True):
    pass


@registry.event
class SubnetPoolUpdated(ResourceUpdated, frozen=True):
    pass


@registry.event
class SubnetPoolDeleted(ResourceDeleted, frozen=True):
    pass


@registry.event
class PortForwardingCreated(ResourceCreated, frozen=True):
    pass


@registry.event
class PortForwardingUpdated(ResourceUpdated, frozen=True):
    pass


@registry.event
class PortForwardingDeleted(ResourceDeleted, frozen=True):
    pass


#: kind -> (created, updated, deleted) event classes
EVENTS: dict[str, tuple[type[ResourceCreated], type[ResourceUpdated], type[ResourceDeleted]]] = {
    "network": (NetworkCreated, NetworkUpdated, NetworkDeleted),
    "subnet": (SubnetCreated, SubnetUpdated, SubnetDeleted),
    "port": (PortCreated, PortUpdated, PortDeleted),
    "router": (RouterCreated, RouterUpdated, RouterDeleted),
    "floatingip": (FloatingIPCreated, FloatingIPUpdated, FloatingIPDeleted),
    "security_group": (SecurityGroupCreated, SecurityGroupUpdated, SecurityGroupDeleted),
    "security_group_rule": (
        SecurityGroupRuleCreated,
        SecurityGroupRuleUpdated,
        SecurityGroupRuleDeleted,
    ),
    "subnetpool": (SubnetPoolCreated, SubnetPoolUpdated, SubnetPoolDeleted),
    "port_forwarding": (PortForwardingCreated, PortForwardingUpdated, PortForwardingDeleted),
}


@registry.event
class AddressesAllocated(DomainEvent, frozen=True):
    """``addresses`` of subnet ``subnet_id`` now belong to ``owner`` (a port or a
    subnet pool's child subnet, by id)."""

    subnet_id: str
    owner: str
    addresses: list[str]


@registry.event
class AddressesReleased(DomainEvent, frozen=True):
    """``addresses`` of subnet ``subnet_id`` are free again."""

    subnet_id: str
    owner: str
    addresses: list[str]


@registry.event
class PortWired(DomainEvent, frozen=True):
    """The network agent of ``host`` found the port's datapath in place (ACTIVE),
    or no longer in place (``status`` DOWN)."""

    port_id: str
    host: str
    status: str = "ACTIVE"


@registry.event
class NetworkQuotaUsed(DomainEvent, frozen=True):
    """The project's use of ``resource`` after a create or delete."""

    project_id: str
    resource: str
    used: int


@registry.event
class NetworkQuotaSet(DomainEvent, frozen=True):
    """An admin set the project's limits (only those named; -1: unlimited)."""

    project_id: str
    limits: dict[str, int]


@registry.event
class NetworkQuotaReset(DomainEvent, frozen=True):
    """An admin deleted the project's limits: the defaults apply again."""

    project_id: str


@registry.event
class SegmentAllocated(DomainEvent, frozen=True):
    """Segment ``segmentation_id`` of ``network_type`` now carries network
    ``network_id``; appended to ``netsegments-<type>`` at the version the
    choice saw, so no two networks share a VXLAN id."""

    network_type: str
    segmentation_id: int
    network_id: str


@registry.event
class SegmentReleased(DomainEvent, frozen=True):
    network_type: str
    segmentation_id: int
    network_id: str


@registry.event
class NetworkAgentHeartbeat(DomainEvent, frozen=True):
    """The network agent of ``host`` runs (appended at its start and every
    heartbeat): it serves ``kinds`` (Neutron's agent types) there."""

    host: str
    started_at: str
    kinds: list[str] = []
