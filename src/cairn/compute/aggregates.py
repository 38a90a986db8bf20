"""Host aggregate deciders: create, rename or re-zone, add and remove hosts, metadata.

Every aggregate event goes to the one ``computeaggregates-catalog`` stream at
the version the decision saw, so two admins creating the same name at once
cannot both succeed, and Nova's integer ids are handed out without gaps or
repeats. The zone rules are Nova's: a host is in at most one named zone (an
aggregate that names a zone cannot take a host that another aggregate puts
in a different one), and a zone cannot change under servers already placed
in it.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from cairn.compute.decide import Writes, write
from cairn.compute.errors import Conflict, Invalid, NotFound
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.projections.compute_state import AGGREGATE_STREAM, Aggregate, ComputeState

ZONE_KEY = "availability_zone"


def find(state: ComputeState, aggregate_id: int) -> Aggregate:
    aggregate = state.aggregates.get(str(aggregate_id))
    if aggregate is None:
        raise NotFound(f"Aggregate {aggregate_id} could not be found.")
    return aggregate


def _name_taken(state: ComputeState, name: str, but: int | None = None) -> None:
    for aggregate in state.aggregates.values():
        if aggregate.name == name and aggregate.id != but:
            raise Conflict(f"Aggregate {name} already exists.")


def _other_zones(state: ComputeState, host: str, but: int) -> set[str]:
    return {
        zone
        for a in state.aggregates.values()
        if a.id != but and host in a.hosts and (zone := a.availability_zone)
    }


def _check_zone_change(state: ComputeState, aggregate: Aggregate, zone: str | None) -> None:
    """400 when giving ``aggregate`` the zone ``zone`` would put one of its hosts in
    two zones, or move servers already placed in its old zone."""
    if zone == aggregate.availability_zone:
        return
    for host in aggregate.hosts:
        others = _other_zones(state, host, aggregate.id)
        if zone and others - {zone}:
            raise Invalid(
                f"Cannot update aggregate {aggregate.id}. Reason: One or more hosts already "
                f"in availability zone(s) {sorted(others)}."
            )
        if any(s.host == host and not s.deleted for s in state.servers.values()):
            raise Invalid(
                f"Cannot update aggregate {aggregate.id}. Reason: One or more hosts contain "
                f"instances in this zone."
            )


def create(state: ComputeState, meta: Metadata, name: str, zone: str | None) -> Writes:
    _name_taken(state, name)
    event = ev.AggregateCreated(
        aggregate_id=state.last_aggregate_id + 1,
        uuid=str(uuid.uuid4()),
        name=name,
        metadata={ZONE_KEY: zone} if zone else {},
    )
    return [write(state, AGGREGATE_STREAM, [event], meta)]


def update(
    state: ComputeState,
    meta: Metadata,
    aggregate_id: int,
    name: str | None,
    zone: str | None,
    zone_given: bool,
) -> Writes:
    aggregate = find(state, aggregate_id)
    if name is not None:
        _name_taken(state, name, but=aggregate.id)
    metadata = dict(aggregate.metadata)
    if zone_given:
        _check_zone_change(state, aggregate, zone)
        metadata.pop(ZONE_KEY, None)
        if zone:
            metadata[ZONE_KEY] = zone
    event = ev.AggregateUpdated(
        aggregate_id=aggregate.id, name=name or aggregate.name, metadata=metadata
    )
    return [write(state, AGGREGATE_STREAM, [event], meta)]


def set_metadata(
    state: ComputeState, meta: Metadata, aggregate_id: int, changes: Mapping[str, str | None]
) -> Writes:
    """Nova's ``set_metadata``: keys given a value are set, keys given null removed."""
    aggregate = find(state, aggregate_id)
    metadata = dict(aggregate.metadata)
    for key, value in changes.items():
        if value is None:
            metadata.pop(key, None)
        else:
            metadata[key] = value
    if metadata.get(ZONE_KEY) != aggregate.availability_zone:
        _check_zone_change(state, aggregate, metadata.get(ZONE_KEY))
    event = ev.AggregateUpdated(aggregate_id=aggregate.id, name=aggregate.name, metadata=metadata)
    return [write(state, AGGREGATE_STREAM, [event], meta)]


def add_host(state: ComputeState, meta: Metadata, aggregate_id: int, host: str) -> Writes:
    aggregate = find(state, aggregate_id)
    if host not in state.hosts:
        raise NotFound(f"Compute host {host} could not be found.")
    if host in aggregate.hosts:
        raise Conflict(f"Aggregate {aggregate.id} already has host {host}.")
    zone = aggregate.availability_zone
    others = _other_zones(state, host, aggregate.id)
    if zone and others - {zone}:
        raise Conflict(
            f"Cannot add host to aggregate {aggregate.id}. Reason: One or more hosts already "
            f"in availability zone(s) {sorted(others)}."
        )
    event = ev.AggregateHostAdded(aggregate_id=aggregate.id, host=host)
    return [write(state, AGGREGATE_STREAM, [event], meta)]


def remove_host(state: ComputeState, meta: Metadata, aggregate_id: int, host: str) -> Writes:
    aggregate = state.aggregates.get(str(aggregate_id))
    if aggregate is None or host not in aggregate.hosts:
        raise NotFound(f"Cannot remove host {host} in aggregate {aggregate_id}")
    event = ev.AggregateHostRemoved(aggregate_id=aggregate.id, host=host)
    return [write(state, AGGREGATE_STREAM, [event], meta)]


def delete(state: ComputeState, meta: Metadata, aggregate_id: int) -> Writes:
    aggregate = find(state, aggregate_id)
    if aggregate.hosts:
        raise Invalid(
            f"Cannot remove aggregate {aggregate.id}. Reason: Host aggregate is not empty."
        )
    event = ev.AggregateDeleted(aggregate_id=aggregate.id)
    return [write(state, AGGREGATE_STREAM, [event], meta)]
