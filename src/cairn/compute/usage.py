"""Usage computed from what the log says of each server: Nova's
``os-simple-tenant-usage`` and ``os-instance_usage_audit_log``.

Nova meters a server from its launch (``launched_at``) to its end
(``terminated_at``), clipped to the period asked for; a server that never
launched costs nothing. Each hour of that span is charged at the flavor the
server had: ``vcpus``, ``memory_mb`` and ``root_gb + ephemeral_gb`` times the
hours. Nova reads those times from rows a periodic task and the compute
manager keep up to date; here they are the times of the server's own events
(its spawn and its deletion), kept for deleted servers too, so any period,
past or present, is answered exactly and the same on every replay.

Nova's usage audit is a periodic task per compute host that records, per
audit period (a month), how many instances it saw. Cairn has no such task:
the same count follows from the log for any period at any time, so every
host's audit is always done.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from cairn.projections.compute_state import ComputeState, Server


def parse_time(text: str | None) -> datetime | None:
    """A time the projection holds (``2026-12-03T10:00:00Z``, with or without the
    zone or fractions), as an aware UTC datetime."""
    if not text:
        return None
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def naive(value: datetime) -> str:
    """Nova's timezone-naive ISO form (``2026-12-03T10:00:00.000000``)."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="microseconds")


@dataclass
class ServerUsage:
    server: Server
    hours: float
    started_at: datetime
    ended_at: datetime | None

    @property
    def local_gb(self) -> int:
        return self.server.flavor.disk_gb + self.server.flavor.ephemeral_gb


@dataclass
class TenantUsage:
    project_id: str
    servers: list[ServerUsage] = field(default_factory=list)

    @property
    def total_hours(self) -> float:
        return sum(u.hours for u in self.servers)

    def total(self, resource: str) -> float:
        return sum(u.hours * _amount(u, resource) for u in self.servers)


def _amount(usage: ServerUsage, resource: str) -> int:
    flavor = usage.server.flavor
    if resource == "vcpus":
        return flavor.vcpus
    if resource == "memory_mb":
        return flavor.ram_mb
    return usage.local_gb


def _active_in(server: Server, start: datetime, stop: datetime) -> bool:
    """Nova's window: launched before the period ends, not terminated before it began."""
    launched, ended = parse_time(server.launched_at), parse_time(server.terminated_at)
    return launched is not None and launched < stop and (ended is None or ended > start)


def hours(server: Server, start: datetime, stop: datetime) -> float:
    """The hours of ``[start, stop)`` during which ``server`` had been launched and not ended."""
    launched, ended = parse_time(server.launched_at), parse_time(server.terminated_at)
    if launched is None or launched > stop or (ended is not None and ended < start):
        return 0.0
    span = min(stop, ended) - max(launched, start) if ended else stop - max(launched, start)
    return max(0.0, span.total_seconds() / 3600.0)


def tenant_usages(
    state: ComputeState, start: datetime, stop: datetime, project_id: str | None = None
) -> list[TenantUsage]:
    """Each project's usage over ``[start, stop)`` (only ``project_id``'s when given),
    servers in creation order."""
    found: dict[str, TenantUsage] = {}
    ordered = sorted(
        state.servers.values(), key=lambda s: (s.created_at, s.launched_at or "", s.id)
    )
    for server in ordered:
        if project_id is not None and server.project_id != project_id:
            continue
        if not _active_in(server, start, stop):
            continue
        launched = parse_time(server.launched_at)
        assert launched is not None
        usage = ServerUsage(
            server=server,
            hours=hours(server, start, stop),
            started_at=launched,
            ended_at=parse_time(server.terminated_at),
        )
        found.setdefault(server.project_id, TenantUsage(server.project_id)).servers.append(usage)
    return list(found.values())


def audit_period(before: datetime) -> tuple[datetime, datetime]:
    """Nova's last completed monthly audit period before ``before``."""
    end = before.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    begin = (
        end.replace(year=end.year - 1, month=12)
        if end.month == 1
        else end.replace(month=end.month - 1)
    )
    return begin, end


def instances_by_host(
    state: ComputeState, hosts: Iterable[str], begin: datetime, end: datetime
) -> dict[str, int]:
    """How many servers each host ran at some time in ``[begin, end)``."""
    counts = dict.fromkeys(hosts, 0)
    for server in state.servers.values():
        if server.host in counts and _active_in(server, begin, end):
            counts[server.host] += 1
    return counts
