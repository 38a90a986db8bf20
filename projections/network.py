"""The networking read model: every Neutron resource, address allocations, quotas.

One state serves the API's reads, the networking deciders (with the version of
every stream folded, for their expected versions), the network agents' plans
and the audit tool's replay (``cairn audit replay networks``). Resources are
kept generically, as Neutron's attribute dictionaries by kind; the few indexes
that decisions need often (addresses in use per subnet, ports per network) are
folded alongside. Times come from the events' recorded time, so the fold
stays pure.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar

import msgspec

from cairn.events import RecordedEvent
from cairn.events import network as ev
from cairn.projections.catalog import Row, catalog
from cairn.projections.fold import Projection, handles


class Resource(msgspec.Struct):
    """One Neutron resource: its kind, id, owner, attributes and standard attributes."""

    id: str
    kind: str
    project_id: str
    attributes: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    revision_number: int = 0

    def get(self, name: str, default: Any = None) -> Any:
        return self.attributes.get(name, default)


class AgentInfo(msgspec.Struct):
    """A host's network agent, as its last heartbeat said."""

    host: str
    started_at: str
    last_seen: datetime
    first_seen: datetime
    kinds: list[str] = []


class NetworkState(msgspec.Struct):
    #: kind -> id -> resource
    resources: dict[str, dict[str, Resource]] = {}
    #: subnet id -> address -> owner (port id)
    allocations: dict[str, dict[str, str]] = {}
    #: project id -> resource -> limit, as admins set them
    quotas: dict[str, dict[str, int]] = {}
    #: network type -> segmentation id -> network id
    segments: dict[str, dict[int, str]] = {}
    #: host -> its network agent
    agents: dict[str, AgentInfo] = {}
    #: stream -> its version, for every stream folded here
    versions: dict[str, int] = {}

    def of(self, kind: str) -> dict[str, Resource]:
        return self.resources.get(kind, {})

    def find(self, kind: str, resource_id: str) -> Resource | None:
        return self.resources.get(kind, {}).get(resource_id)


def stream_of(kind: str, resource_id: str) -> str:
    """The stream a resource's events go to; a rule lives on its group's stream
    and a port forwarding on its floating IP's (see :func:`parent_stream`)."""
    return f"{kind.replace('_', '')}-{resource_id}"


def quota_stream(project_id: str) -> str:
    return f"netquota-{project_id}"


_KIND_OF: dict[str, tuple[str, str]] = {}
for _kind, (_created, _updated, _deleted) in ev.EVENTS.items():
    _KIND_OF[_created.__name__] = (_kind, "created")
    _KIND_OF[_updated.__name__] = (_kind, "updated")
    _KIND_OF[_deleted.__name__] = (_kind, "deleted")


class NetworkProjection(Projection[NetworkState]):
    name = "networks"
    state_type: ClassVar[Any] = NetworkState

    def initial(self) -> NetworkState:
        return NetworkState()

    def apply(self, state: NetworkState, event: RecordedEvent) -> NetworkState:
        state.versions[event.stream] = event.version
        return super().apply(state, event)

    @handles(*(cls.__name__ for trio in ev.EVENTS.values() for cls in trio[:1]))
    def _created(self, s: NetworkState, e: RecordedEvent, d: ev.ResourceCreated) -> Any:
        kind, _ = _KIND_OF[e.type]
        s.resources.setdefault(kind, {})[d.resource_id] = Resource(
            d.resource_id, kind, d.project_id, dict(d.attributes), e.recorded_at, e.recorded_at
        )
        return s

    @handles(*(trio[1].__name__ for trio in ev.EVENTS.values()))
    def _updated(self, s: NetworkState, e: RecordedEvent, d: ev.ResourceUpdated) -> Any:
        kind, _ = _KIND_OF[e.type]
        found = s.resources.get(kind, {}).get(d.resource_id)
        if found is not None:
            found.attributes.update(d.attributes)
            found.updated_at = e.recorded_at
            found.revision_number += 1
        return s

    @handles(*(trio[2].__name__ for trio in ev.EVENTS.values()))
    def _deleted(self, s: NetworkState, e: RecordedEvent, d: ev.ResourceDeleted) -> Any:
        kind, _ = _KIND_OF[e.type]
        s.resources.get(kind, {}).pop(d.resource_id, None)
        return s

    @handles("AddressesAllocated")
    def _allocated(self, s: NetworkState, e: RecordedEvent, d: ev.AddressesAllocated) -> Any:
        used = s.allocations.setdefault(d.subnet_id, {})
        for address in d.addresses:
            used[address] = d.owner
        return s

    @handles("AddressesReleased")
    def _released(self, s: NetworkState, e: RecordedEvent, d: ev.AddressesReleased) -> Any:
        used = s.allocations.get(d.subnet_id, {})
        for address in d.addresses:
            if used.get(address) == d.owner:
                del used[address]
        if not used:
            s.allocations.pop(d.subnet_id, None)
        return s

    @handles("PortWired")
    def _wired(self, s: NetworkState, e: RecordedEvent, d: ev.PortWired) -> Any:
        port = s.resources.get("port", {}).get(d.port_id)
        if port is not None and port.attributes.get("status") != d.status:
            port.attributes["status"] = d.status
            port.updated_at = e.recorded_at
            port.revision_number += 1
        return s

    @handles("SegmentAllocated")
    def _segment(self, s: NetworkState, e: RecordedEvent, d: ev.SegmentAllocated) -> Any:
        s.segments.setdefault(d.network_type, {})[d.segmentation_id] = d.network_id
        return s

    @handles("SegmentReleased")
    def _segment_freed(self, s: NetworkState, e: RecordedEvent, d: ev.SegmentReleased) -> Any:
        found = s.segments.get(d.network_type, {})
        if found.get(d.segmentation_id) == d.network_id:
            del found[d.segmentation_id]
        return s

    @handles("NetworkAgentHeartbeat")
    def _heartbeat(self, s: NetworkState, e: RecordedEvent, d: ev.NetworkAgentHeartbeat) -> Any:
        known = s.agents.get(d.host)
        first = known.first_seen if known is not None else e.recorded_at
        s.agents[d.host] = AgentInfo(d.host, d.started_at, e.recorded_at, first, list(d.kinds))
        return s

    @handles("NetworkQuotaUsed")
    def _used(self, s: NetworkState, e: RecordedEvent, d: ev.NetworkQuotaUsed) -> Any:
        return s  # usage is counted from the resources; the event guards the stream

    @handles("NetworkQuotaSet")
    def _quota_set(self, s: NetworkState, e: RecordedEvent, d: ev.NetworkQuotaSet) -> Any:
        s.quotas.setdefault(d.project_id, {}).update(d.limits)
        return s

    @handles("NetworkQuotaReset")
    def _quota_reset(self, s: NetworkState, e: RecordedEvent, d: ev.NetworkQuotaReset) -> Any:
        s.quotas.pop(d.project_id, None)
        return s


def _rows(kind: str, columns: tuple[str, ...]) -> Any:
    def rows(state: NetworkState, project: str | None) -> list[Row]:
        found = []
        for resource in state.of(kind).values():
            if project is not None and resource.project_id != project:
                continue
            row: Row = {"id": resource.id, "project_id": resource.project_id}
            row.update({c: resource.get(c) for c in columns if c not in row})
            found.append(row)
        return sorted(found, key=lambda r: r["id"])

    return rows


_VIEWS = {
    "networks": ("network", ("id", "name", "project_id", "status", "shared", "router:external")),
    "subnets": ("subnet", ("id", "name", "project_id", "network_id", "cidr", "gateway_ip")),
    "ports": ("port", ("id", "project_id", "network_id", "device_id", "status", "fixed_ips")),
    "routers": ("router", ("id", "name", "project_id", "status", "external_gateway_info")),
    "floatingips": (
        "floatingip",
        ("id", "project_id", "floating_ip_address", "fixed_ip_address", "port_id"),
    ),
    "security_groups": ("security_group", ("id", "name", "project_id")),
}
for _view, (_kind, _columns) in _VIEWS.items():
    catalog.register(
        _view,
        NetworkProjection,
        rows=_rows(_kind, _columns),
        columns=_columns,
        description=f"networking: {_view.replace('_', ' ')}",
    )
