"""Scheduler filters and weighers: which hosts can take a server, and which is best.

A filter is a function ``(candidate, server, context) -> bool``; a host must pass
every one (Nova's ``enabled_filters``). Weighers rank what is left: free RAM and
free vCPUs, each normalized to 0..1 across the candidates as Nova does, times
+1 to spread servers (most free first) or -1 to stack them (fullest first).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from cairn.projections.compute import ComputeState, Host, Server

DEFAULT_ZONE = "nova"


@dataclass(slots=True)
class Candidate:
    """A host as one scheduling pass sees it: what it would hold once the claims
    already planned in this pass are added."""

    host: Host
    vcpus: int
    memory_mb: int
    disk_gb: int
    #: servers planned onto it in this pass
    planned: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, host: Host) -> Candidate:
        return cls(host, host.used_vcpus, host.used_memory_mb, host.used_disk_gb)

    @property
    def free_vcpus(self) -> int:
        return self.host.limit("vcpus") - self.vcpus

    @property
    def free_memory_mb(self) -> int:
        return self.host.limit("memory_mb") - self.memory_mb

    @property
    def free_disk_gb(self) -> int:
        return self.host.limit("disk_gb") - self.disk_gb


@dataclass(frozen=True, slots=True)
class Context:
    state: ComputeState
    now: float


Filter = Callable[[Candidate, Server, Context], bool]


def compute_filter(c: Candidate, server: Server, ctx: Context) -> bool:
    """The host's compute service is enabled and up."""
    return c.host.enabled and c.host.is_up(ctx.now)


def retry_filter(c: Candidate, server: Server, ctx: Context) -> bool:
    """A reschedule never goes back to a host that already failed the spawn."""
    return c.host.host not in server.tried_hosts


def availability_zone_filter(c: Candidate, server: Server, ctx: Context) -> bool:
    wanted = server.availability_zone
    return not wanted or wanted == c.host.availability_zone


def requested_host_filter(c: Candidate, server: Server, ctx: Context) -> bool:
    return server.requested_host is None or server.requested_host == c.host.host


def resources_filter(c: Candidate, server: Server, ctx: Context) -> bool:
    """RAM, vCPUs and disk, with the host's allocation ratios (Nova: placement)."""
    flavor = server.flavor
    disk = flavor.disk_gb + flavor.ephemeral_gb + (flavor.swap_mb + 1023) // 1024
    return (
        c.free_vcpus >= flavor.vcpus
        and c.free_memory_mb >= flavor.ram_mb
        and c.free_disk_gb >= disk
    )


def image_properties_filter(c: Candidate, server: Server, ctx: Context) -> bool:
    """The image's ``architecture`` and ``hypervisor_type``, if it names them."""
    props = server.image.properties
    arch = props.get("architecture") or props.get("hw_architecture")
    if arch and _arch(arch) != _arch(c.host.architecture):
        return False
    hv = props.get("hypervisor_type") or props.get("img_hv_type")
    return not hv or hv.lower() == c.host.hypervisor_type.lower()


def _arch(name: str) -> str:
    name = name.lower()
    return {"amd64": "x86_64", "x64": "x86_64", "i686": "i386", "arm64": "aarch64"}.get(name, name)


def _hosts_of(ctx: Context, server_ids: Sequence[str], planned: dict[str, str]) -> set[str]:
    hosts: set[str] = set()
    for server_id in server_ids:
        if server_id in planned:
            hosts.add(planned[server_id])
            continue
        other = ctx.state.servers.get(server_id)
        if other is not None and other.host and not other.deleted:
            hosts.add(other.host)
    return hosts


def _count_on(ctx: Context, server_ids: Sequence[str], planned: dict[str, str], host: str) -> int:
    """How many of ``server_ids`` are (or are planned to be) on ``host``."""
    return sum(1 for server_id in server_ids if _hosts_of(ctx, [server_id], planned) == {host})


def make_affinity_filters(
    planned: dict[str, str], planned_groups: dict[str, list[str]] | None = None
) -> list[Filter]:
    """same_host, different_host and server group (anti-)affinity; ``planned``
    maps servers placed earlier in this pass to their hosts, ``planned_groups``
    each group to the servers placed in it in this pass (new servers are not
    members in the state yet when they are placed in their own boot's append)."""
    in_pass = planned_groups if planned_groups is not None else {}

    def same_host(c: Candidate, server: Server, ctx: Context) -> bool:
        wanted = server.scheduler_hints.get("same_host", [])
        return not wanted or c.host.host in _hosts_of(ctx, wanted, planned)

    def different_host(c: Candidate, server: Server, ctx: Context) -> bool:
        avoid = server.scheduler_hints.get("different_host", [])
        return not avoid or c.host.host not in _hosts_of(ctx, avoid, planned)

    def group(c: Candidate, server: Server, ctx: Context) -> bool:
        for group_id in server.scheduler_hints.get("group", []):
            found = ctx.state.server_groups.get(group_id)
            if found is None or found.policy.startswith("soft-"):
                continue
            members = dict.fromkeys((*found.members, *in_pass.get(group_id, ())))
            others = [m for m in members if m != server.id]
            hosts = _hosts_of(ctx, others, planned)
            if found.policy == "affinity" and hosts and c.host.host not in hosts:
                return False
            if found.policy == "anti-affinity" and c.host.host in hosts:
                # Nova's rule (2.64): up to max_server_per_host members a host
                most = found.rules.get("max_server_per_host", 1)
                if most <= 1 or _count_on(ctx, others, planned, c.host.host) >= most:
                    return False
        return True

    return [same_host, different_host, group]


BASE_FILTERS: tuple[Filter, ...] = (
    compute_filter,
    retry_filter,
    availability_zone_filter,
    requested_host_filter,
    resources_filter,
    image_properties_filter,
)


def make_soft_group_order(
    planned: dict[str, str], planned_groups: dict[str, list[str]]
) -> Callable[[list[Candidate], Server, Context], list[Candidate]]:
    """Soft (anti-)affinity, as Nova's server-group weighers: no host is ruled
    out, but among the hosts that fit, those holding more of the group's other
    members come first (``soft-affinity``) or last (``soft-anti-affinity``).
    The sort is stable, so hosts with as many members keep the strategy's order."""

    def order(candidates: list[Candidate], server: Server, ctx: Context) -> list[Candidate]:
        score = dict.fromkeys((c.host.host for c in candidates), 0)
        for group_id in server.scheduler_hints.get("group", []):
            found = ctx.state.server_groups.get(group_id)
            if found is None or not found.policy.startswith("soft-"):
                continue
            sign = -1 if found.policy == "soft-affinity" else 1
            members = dict.fromkeys((*found.members, *planned_groups.get(group_id, ())))
            others = [m for m in members if m != server.id]
            for host in score:
                score[host] += sign * _count_on(ctx, others, planned, host)
        return sorted(candidates, key=lambda c: score[c.host.host])

    return order


def _normalized(values: list[float]) -> list[float]:
    low, high = min(values), max(values)
    if high == low:
        return [0.0 for _ in values]
    return [(v - low) / (high - low) for v in values]


def weigh(candidates: list[Candidate], strategy: str) -> list[Candidate]:
    """``candidates`` best first: by free RAM plus free vCPUs, normalized; ``spread``
    prefers the emptiest host, ``stack`` the fullest that fits. Ties go to the
    host name, so a decision is reproducible."""
    if len(candidates) <= 1:
        return candidates
    multiplier = 1.0 if strategy == "spread" else -1.0
    ram = _normalized([float(c.free_memory_mb) for c in candidates])
    cpu = _normalized([float(c.free_vcpus) for c in candidates])
    scored = [
        (-(multiplier * (r + v)), c.host.host, c)
        for r, v, c in zip(ram, cpu, candidates, strict=True)
    ]
    scored.sort(key=lambda item: (item[0], item[1]))
    return [c for _, _, c in scored]
