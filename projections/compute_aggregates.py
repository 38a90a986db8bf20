"""The compute projection's folds of host aggregates, and the zone of each host.

A host is in the availability zone its aggregate names (metadata key
``availability_zone``), else in the zone its agent registered with: Nova's
rule, which makes aggregates the way an operator moves hosts between zones.
Every fold that can change that (a host joining or leaving, a zone renamed,
an aggregate deleted, an agent registering again) recomputes the zone of the
hosts it touches, so the scheduler's zone filter and the zone listings read
one field, ``Host.availability_zone``.

A mixin of :class:`~cairn.projections.compute.ComputeProjection`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from cairn.events import RecordedEvent
from cairn.events import compute as ev
from cairn.projections.compute_state import Aggregate, ComputeState
from cairn.projections.compute_state import iso as _iso
from cairn.projections.fold import handles


def aggregate_zone(state: ComputeState, host: str) -> str | None:
    """The zone an aggregate of ``host`` names (the oldest such aggregate's)."""
    for aggregate in state.aggregates.values():
        if host in aggregate.hosts and aggregate.availability_zone:
            return aggregate.availability_zone
    return None


def rezone(state: ComputeState, hosts: Iterable[str]) -> None:
    """Recompute the zone in effect of each of ``hosts`` that is registered."""
    for name in hosts:
        host = state.hosts.get(name)
        if host is not None:
            if not host.agent_zone:  # folded before hosts kept the agent's zone apart
                host.agent_zone = host.availability_zone
            host.availability_zone = aggregate_zone(state, name) or host.agent_zone


class AggregateFolds:
    @handles("AggregateCreated")
    def _aggregate_created(self, s: ComputeState, e: RecordedEvent, d: ev.AggregateCreated) -> Any:
        s.aggregates[str(d.aggregate_id)] = Aggregate(
            id=d.aggregate_id,
            uuid=d.uuid,
            name=d.name,
            created_at=_iso(e),
            metadata=dict(d.metadata),
        )
        s.last_aggregate_id = max(s.last_aggregate_id, d.aggregate_id)
        return s

    @handles("AggregateUpdated")
    def _aggregate_updated(self, s: ComputeState, e: RecordedEvent, d: ev.AggregateUpdated) -> Any:
        aggregate = s.aggregates.get(str(d.aggregate_id))
        if aggregate is not None:
            aggregate.name, aggregate.metadata = d.name, dict(d.metadata)
            aggregate.updated_at = _iso(e)
            rezone(s, aggregate.hosts)
        return s

    @handles("AggregateHostAdded")
    def _host_added(self, s: ComputeState, e: RecordedEvent, d: ev.AggregateHostAdded) -> Any:
        aggregate = s.aggregates.get(str(d.aggregate_id))
        if aggregate is not None and d.host not in aggregate.hosts:
            aggregate.hosts = [*aggregate.hosts, d.host]
            aggregate.updated_at = _iso(e)
            rezone(s, [d.host])
        return s

    @handles("AggregateHostRemoved")
    def _host_removed(self, s: ComputeState, e: RecordedEvent, d: ev.AggregateHostRemoved) -> Any:
        aggregate = s.aggregates.get(str(d.aggregate_id))
        if aggregate is not None:
            aggregate.hosts = [h for h in aggregate.hosts if h != d.host]
            aggregate.updated_at = _iso(e)
            rezone(s, [d.host])
        return s

    @handles("AggregateDeleted")
    def _aggregate_deleted(self, s: ComputeState, e: RecordedEvent, d: ev.AggregateDeleted) -> Any:
        aggregate = s.aggregates.pop(str(d.aggregate_id), None)
        if aggregate is not None:
            rezone(s, aggregate.hosts)
        return s
