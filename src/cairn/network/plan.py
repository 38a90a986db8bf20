"""A plan: the events one networking command appends, gathered per stream.

Deciders describe a command as a sequence of changes (create this port, take
these addresses, count this project's ports) on a :class:`Plan`; the plan puts
each change on its stream, expecting the version the state folded (or
``NO_STREAM`` for a new resource), and remembers what it planned so that later
decisions of the same command (or of the same batch) see it: an address taken
by the first port of a batch is not offered to the second, a port counted
once is counted for the quota.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Container, Iterator
from typing import Any

from cairn.events import NO_STREAM, DomainEvent, Metadata, NewEvent, registry
from cairn.events import network as ev
from cairn.network import ipam
from cairn.projections.network import NetworkState, Resource, quota_stream, stream_of
from cairn.store.port import StreamWrite

#: The stream a kind's resources live on when not their own: a rule on its group's,
#: a port forwarding on its floating IP's.
PARENT = {
    "security_group_rule": ("security_group", "security_group_id"),
    "port_forwarding": ("floatingip", "floatingip_id"),
}


def resource_stream(kind: str, resource_id: str, attributes: dict[str, Any]) -> str:
    parent = PARENT.get(kind)
    if parent is None:
        return stream_of(kind, resource_id)
    parent_kind, key = parent
    return stream_of(parent_kind, attributes[key])


class Plan:
    def __init__(self, state: NetworkState, meta: Metadata) -> None:
        self.state = state
        self.meta = meta
        self._events: dict[str, list[NewEvent]] = {}
        self._expected: dict[str, int] = {}
        #: what this plan created or changed (copies of the state's resources:
        #: the state is never changed here) or deleted, for decisions taken after it
        self.created: dict[str, dict[str, Resource]] = defaultdict(dict)
        self.deleted: set[str] = set()
        self.taken: dict[str, set[str]] = defaultdict(set)
        self.freed: dict[str, set[str]] = defaultdict(set)
        self.counted: dict[tuple[str, str], int] = {}
        # Caches for the hot path (a batch of port creates): each is built once
        # per plan from the state, then kept up to date by this plan's changes.
        self._counts: dict[tuple[str, str], int] = {}
        self._macs: dict[str, set[str]] = {}
        self._free: dict[str, Iterator[str]] = {}

    # -- the log ---------------------------------------------------------------------

    def add(self, stream: str, event: DomainEvent, *, new: bool = False) -> None:
        if stream not in self._expected:
            self._expected[stream] = (
                NO_STREAM if new else self.state.versions.get(stream, NO_STREAM)
            )
        self._events.setdefault(stream, []).append(registry.new(event, self.meta))

    def writes(self) -> list[StreamWrite]:
        return [StreamWrite(s, events, self._expected[s]) for s, events in self._events.items()]

    # -- resources -------------------------------------------------------------------

    def create(
        self,
        kind: str,
        resource_id: str,
        project_id: str,
        attributes: dict[str, Any],
    ) -> Resource:
        created, _, _ = ev.EVENTS[kind]
        stream = resource_stream(kind, resource_id, attributes)
        self.add(
            stream,
            created(resource_id=resource_id, project_id=project_id, attributes=attributes),
            new=stream == stream_of(kind, resource_id),
        )
        # Its times are the event's recorded time, unknown until the append: the
        # plan's own copy carries none (no decision reads them).
        resource = Resource(resource_id, kind, project_id, dict(attributes), None, None)  # type: ignore[arg-type]
        self.created[kind][resource_id] = resource
        self._counted(project_id, kind, +1)
        if kind == "port" and resource.get("network_id") in self._macs:
            self._macs[resource.get("network_id")].add(resource.get("mac_address"))
        return resource

    def update(self, resource: Resource, changes: dict[str, Any]) -> None:
        if not changes:
            return
        _, updated, _ = ev.EVENTS[resource.kind]
        stream = resource_stream(resource.kind, resource.id, resource.attributes)
        self.add(stream, updated(resource_id=resource.id, attributes=changes))
        overlay = self.created[resource.kind].get(resource.id)
        if overlay is None:
            # The state's resource is not this plan's to change: change a copy.
            overlay = Resource(
                resource.id,
                resource.kind,
                resource.project_id,
                dict(resource.attributes),
                resource.created_at,
                resource.updated_at,
                resource.revision_number,
            )
            self.created[resource.kind][resource.id] = overlay
        overlay.attributes.update(changes)

    def delete(self, resource: Resource) -> None:
        _, _, deleted = ev.EVENTS[resource.kind]
        stream = resource_stream(resource.kind, resource.id, resource.attributes)
        self.add(stream, deleted(resource_id=resource.id, project_id=resource.project_id))
        if resource.id not in self.deleted:
            self._counted(resource.project_id, resource.kind, -1)
        self.deleted.add(resource.id)

    def resources(self, kind: str) -> list[Resource]:
        """The state's resources of ``kind`` with this plan's changes applied."""
        mine = self.created[kind]
        found = [
            r for r in self.state.of(kind).values() if r.id not in self.deleted and r.id not in mine
        ]
        found += [r for r in mine.values() if r.id not in self.deleted]
        return found

    def find(self, kind: str, resource_id: str) -> Resource | None:
        if resource_id in self.deleted:
            return None
        return self.created[kind].get(resource_id) or self.state.find(kind, resource_id)

    # -- addresses -------------------------------------------------------------------

    def in_use(self, subnet_id: str, *, also: Container[str] = ()) -> InUse:
        """The subnet's addresses in use after this plan (plus ``also``), as a view:
        membership tests are cheap, nothing is copied."""
        return InUse(
            self.state.allocations.get(subnet_id, {}),
            self.freed[subnet_id],
            self.taken[subnet_id],
            also,
        )

    def next_free(self, subnet: Resource, *, exclude: Container[str] = ()) -> str | None:
        """The subnet's lowest free pool address after this plan (not in ``exclude``).
        One scan of the pool serves the whole plan: the scan resumes where the
        last address was found (an address freed by this very plan is not
        offered again until the next)."""
        found = self._free.get(subnet.id)
        if found is None:
            found = self._free[subnet.id] = ipam.free_addresses(
                subnet.attributes, self.in_use(subnet.id)
            )
        for address in found:
            if address not in self.taken[subnet.id] and address not in exclude:
                return address
        return None

    def macs(self, network_id: str) -> set[str]:
        """The MAC addresses of the network's ports after this plan."""
        found = self._macs.get(network_id)
        if found is None:
            found = self._macs[network_id] = {
                p.get("mac_address")
                for p in self.resources("port")
                if p.get("network_id") == network_id
            }
        return found

    def allocate(self, subnet_id: str, owner: str, addresses: list[str]) -> None:
        if addresses:
            self.add(
                stream_of("subnet", subnet_id),
                ev.AddressesAllocated(subnet_id=subnet_id, owner=owner, addresses=addresses),
            )
            self.taken[subnet_id].update(addresses)

    def release(self, subnet_id: str, owner: str, addresses: list[str]) -> None:
        if addresses and self.find("subnet", subnet_id) is not None:
            self.add(
                stream_of("subnet", subnet_id),
                ev.AddressesReleased(subnet_id=subnet_id, owner=owner, addresses=addresses),
            )
            self.freed[subnet_id].update(addresses)
            self.taken[subnet_id].difference_update(addresses)

    # -- quota -----------------------------------------------------------------------

    def count(self, project_id: str, kind: str) -> int:
        key = (project_id, kind)
        if key not in self._counts:
            created = self.created[kind]
            self._counts[key] = sum(
                1
                for r in self.state.of(kind).values()
                if r.project_id == project_id and r.id not in self.deleted and r.id not in created
            ) + sum(
                1
                for r in created.values()
                if r.project_id == project_id and r.id not in self.deleted
            )
        return self._counts[key]

    def _counted(self, project_id: str, kind: str, delta: int) -> None:
        key = (project_id, kind)
        if key in self._counts:
            self._counts[key] += delta

    def record_usage(self, project_id: str, kind: str) -> None:
        """Append the project's use of ``kind`` after this plan, guarding the
        project's quota stream (see :mod:`cairn.events.network`)."""
        if not project_id:
            return
        used = self.count(project_id, kind)
        if self.counted.get((project_id, kind)) == used:
            return
        self.counted[(project_id, kind)] = used
        self.add(
            quota_stream(project_id),
            ev.NetworkQuotaUsed(project_id=project_id, resource=kind, used=used),
        )


class InUse:
    """Addresses in use on one subnet: the state's, less those a plan freed, plus
    those it took (and a caller's own)."""

    __slots__ = ("_also", "_freed", "_state", "_taken")

    def __init__(
        self, state: dict[str, str], freed: set[str], taken: set[str], also: Container[str]
    ) -> None:
        self._state, self._freed, self._taken, self._also = state, freed, taken, also

    def __iter__(self) -> Iterator[str]:
        yield from (a for a in self._state if a not in self._freed)
        yield from self._taken

    def __contains__(self, address: object) -> bool:
        return (
            address in self._taken
            or address in self._also
            or (address in self._state and address not in self._freed)
        )
