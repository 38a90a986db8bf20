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

import copy
from collections import defaultdict
from typing import Any

from cairn.events import NO_STREAM, DomainEvent, Metadata, NewEvent, registry
from cairn.events import network as ev
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

    def fork(self, meta: Metadata | None = None) -> Plan:
        """A plan that starts where this one is; :meth:`adopt` it to keep what it
        planned, drop it to forget that."""
        child = Plan(self.state, meta or self.meta)
        child._events = {stream: list(events) for stream, events in self._events.items()}
        child._expected = dict(self._expected)
        child.created = copy.deepcopy(self.created)
        child.deleted = set(self.deleted)
        child.taken = copy.deepcopy(self.taken)
        child.freed = copy.deepcopy(self.freed)
        child.counted = dict(self.counted)
        return child

    def adopt(self, child: Plan) -> None:
        """Keep everything ``child`` (a :meth:`fork` of this plan) planned."""
        self._events, self._expected = child._events, child._expected
        self.created, self.deleted = child.created, child.deleted
        self.taken, self.freed, self.counted = child.taken, child.freed, child.counted

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
        *,
        at: Any = None,
    ) -> Resource:
        created, _, _ = ev.EVENTS[kind]
        stream = resource_stream(kind, resource_id, attributes)
        self.add(
            stream,
            created(resource_id=resource_id, project_id=project_id, attributes=attributes),
            new=stream == stream_of(kind, resource_id),
        )
        resource = Resource(resource_id, kind, project_id, dict(attributes), at, at)
        self.created[kind][resource_id] = resource
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

    def in_use(self, subnet_id: str) -> set[str]:
        used = set(self.state.allocations.get(subnet_id, {})) - self.freed[subnet_id]
        return used | self.taken[subnet_id]

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
        return sum(1 for r in self.resources(kind) if r.project_id == project_id)

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
