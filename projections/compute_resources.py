"""The compute projection's folds of everything but servers: flavors, hosts and
their claims, quota usage and quota sets, keypairs, server groups.

A mixin of :class:`~cairn.projections.compute.ComputeProjection`: its handlers
are found through the class hierarchy like the projection's own.
"""

from __future__ import annotations

from typing import Any

from cairn.events import RecordedEvent
from cairn.events import compute as ev
from cairn.projections.compute_aggregates import rezone
from cairn.projections.compute_state import (
    ComputeState,
    Flavor,
    Host,
    Keypair,
    ServerGroup,
    Usage,
)
from cairn.projections.compute_state import epoch as _epoch
from cairn.projections.compute_state import iso as _iso
from cairn.projections.fold import handles


class ResourceFolds:
    # -- flavors -------------------------------------------------------------------

    @handles("FlavorCreated")
    def _flavor_created(self, s: ComputeState, e: RecordedEvent, d: ev.FlavorCreated) -> Any:
        s.flavors[d.flavor_id] = Flavor(
            id=d.flavor_id, name=d.name, vcpus=d.vcpus, ram_mb=d.ram_mb, disk_gb=d.disk_gb,
            ephemeral_gb=d.ephemeral_gb, swap_mb=d.swap_mb, rxtx_factor=d.rxtx_factor,
            is_public=d.is_public, description=d.description, created_position=e.position,
        )  # fmt: skip
        return s

    @handles("FlavorUpdated")
    def _flavor_updated(self, s: ComputeState, e: RecordedEvent, d: ev.FlavorUpdated) -> Any:
        if d.flavor_id in s.flavors:
            s.flavors[d.flavor_id].description = d.description
        return s

    @handles("FlavorDeleted")
    def _flavor_deleted(self, s: ComputeState, e: RecordedEvent, d: ev.FlavorDeleted) -> Any:
        s.flavors.pop(d.flavor_id, None)
        return s

    @handles("FlavorExtraSpecsChanged")
    def _specs(self, s: ComputeState, e: RecordedEvent, d: ev.FlavorExtraSpecsChanged) -> Any:
        if d.flavor_id in s.flavors:
            s.flavors[d.flavor_id].extra_specs = dict(d.extra_specs)
        return s

    @handles("FlavorAccessAdded")
    def _access_added(self, s: ComputeState, e: RecordedEvent, d: ev.FlavorAccessAdded) -> Any:
        flavor = s.flavors.get(d.flavor_id)
        if flavor is not None and d.project_id not in flavor.projects:
            flavor.projects = [*flavor.projects, d.project_id]
        return s

    @handles("FlavorAccessRemoved")
    def _access_removed(self, s: ComputeState, e: RecordedEvent, d: ev.FlavorAccessRemoved) -> Any:
        flavor = s.flavors.get(d.flavor_id)
        if flavor is not None:
            flavor.projects = [p for p in flavor.projects if p != d.project_id]
        return s

    # -- hosts ---------------------------------------------------------------------

    @handles("ComputeHostRegistered")
    def _registered(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeHostRegistered) -> Any:
        old = s.hosts.get(d.host)
        host = Host(
            host=d.host, hypervisor_type=d.hypervisor_type,
            hypervisor_version=d.hypervisor_version, hypervisor_uri=d.hypervisor_uri,
            availability_zone=d.availability_zone, capacity=d.capacity, reserved=d.reserved,
            cpu_allocation_ratio=d.cpu_allocation_ratio,
            ram_allocation_ratio=d.ram_allocation_ratio,
            disk_allocation_ratio=d.disk_allocation_ratio, architecture=d.architecture,
            heartbeat_interval=d.heartbeat_interval, last_seen=_epoch(e), updated_at=_iso(e),
            capabilities=list(d.capabilities), agent_zone=d.availability_zone,
            host_ip=d.host_ip, booted_at=d.booted_at, serial_console_url=d.serial_console_url,
        )  # fmt: skip
        if old is not None:
            # A restarted agent keeps its claims and the operator's switch.
            host.claims, host.enabled, host.disabled_reason, host.forced_down = (
                old.claims, old.enabled, old.disabled_reason, old.forced_down,
            )  # fmt: skip
            host.resize_held = old.resize_held
            host.used_vcpus, host.used_memory_mb, host.used_disk_gb = (
                old.used_vcpus, old.used_memory_mb, old.used_disk_gb,
            )  # fmt: skip
        s.hosts[d.host] = host
        rezone(s, [d.host])  # an aggregate's zone beats the agent's
        return s

    @handles("ComputeHostHeartbeat")
    def _heartbeat(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeHostHeartbeat) -> Any:
        host = s.hosts.get(d.host)
        if host is not None:
            host.last_seen, host.stopped, host.updated_at = _epoch(e), False, _iso(e)
            if d.load_average:
                host.load_average = list(d.load_average)
        return s

    @handles("ComputeHostStopped")
    def _stopped(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeHostStopped) -> Any:
        host = s.hosts.get(d.host)
        if host is not None:
            host.stopped, host.updated_at = True, _iso(e)
        return s

    @handles("ComputeServiceDisabled")
    def _disabled(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeServiceDisabled) -> Any:
        host = s.hosts.get(d.host)
        if host is not None:
            host.enabled, host.disabled_reason, host.updated_at = False, d.reason or None, _iso(e)
        return s

    @handles("ComputeServiceEnabled")
    def _enabled(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeServiceEnabled) -> Any:
        host = s.hosts.get(d.host)
        if host is not None:
            host.enabled, host.disabled_reason, host.updated_at = True, None, _iso(e)
        return s

    @handles("ComputeServiceForcedDown")
    def _forced(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeServiceForcedDown) -> Any:
        host = s.hosts.get(d.host)
        if host is not None:
            host.forced_down, host.updated_at = d.forced_down, _iso(e)
        return s

    @handles("HostResourcesClaimed")
    def _claimed(self, s: ComputeState, e: RecordedEvent, d: ev.HostResourcesClaimed) -> Any:
        host = s.hosts.get(d.host)
        if host is not None and d.server_id not in host.claims:
            host.claims[d.server_id] = d.amounts
            host.used_vcpus += d.amounts.vcpus
            host.used_memory_mb += d.amounts.memory_mb
            host.used_disk_gb += d.amounts.disk_gb
        return s

    @handles("HostResourcesReleased")
    def _released(self, s: ComputeState, e: RecordedEvent, d: ev.HostResourcesReleased) -> Any:
        host = s.hosts.get(d.host)
        if host is not None:
            # Everything the server holds here goes: a resize's kept claim too.
            for held in (host.claims, host.resize_held):
                amounts = held.pop(d.server_id, None)
                if amounts is not None:
                    host.used_vcpus -= amounts.vcpus
                    host.used_memory_mb -= amounts.memory_mb
                    host.used_disk_gb -= amounts.disk_gb
        return s

    # -- quota ---------------------------------------------------------------------

    @handles("ComputeQuotaConsumed")
    def _consumed(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeQuotaConsumed) -> Any:
        usage = s.usage.setdefault(d.project_id, Usage())
        if d.server_id not in usage.servers:
            usage.servers[d.server_id] = (d.cores, d.ram_mb)
            usage.instances += d.instances
            usage.cores += d.cores
            usage.ram_mb += d.ram_mb
        return s

    @handles("ComputeQuotaReleased")
    def _quota_released(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeQuotaReleased) -> Any:
        usage = s.usage.get(d.project_id)
        if usage is not None:
            held = usage.servers.pop(d.server_id, None)
            if held is not None:
                usage.instances -= 1
                usage.cores -= held[0]
                usage.ram_mb -= held[1]
        return s

    @handles("ComputeQuotaSetUpdated")
    def _quota_set(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeQuotaSetUpdated) -> Any:
        s.quota_sets.setdefault(d.project_id, {}).update(d.limits)
        return s

    @handles("ComputeQuotaSetDeleted")
    def _quota_unset(self, s: ComputeState, e: RecordedEvent, d: ev.ComputeQuotaSetDeleted) -> Any:
        s.quota_sets.pop(d.project_id, None)
        return s

    # -- keypairs, server groups ---------------------------------------------------

    @handles("KeypairCreated")
    def _keypair(self, s: ComputeState, e: RecordedEvent, d: ev.KeypairCreated) -> Any:
        s.keypairs.setdefault(d.user_id, {})[d.name] = Keypair(
            user_id=d.user_id, name=d.name, public_key=d.public_key, fingerprint=d.fingerprint,
            key_type=d.key_type, created_at=d.created_at or _iso(e),
        )  # fmt: skip
        return s

    @handles("KeypairDeleted")
    def _keypair_deleted(self, s: ComputeState, e: RecordedEvent, d: ev.KeypairDeleted) -> Any:
        s.keypairs.get(d.user_id, {}).pop(d.name, None)
        return s

    @handles("ServerGroupCreated")
    def _group(self, s: ComputeState, e: RecordedEvent, d: ev.ServerGroupCreated) -> Any:
        s.server_groups[d.group_id] = ServerGroup(
            id=d.group_id, project_id=d.project_id, user_id=d.user_id, name=d.name,
            policy=d.policy, rules=dict(d.rules),
        )  # fmt: skip
        return s

    @handles("ServerGroupDeleted")
    def _group_deleted(self, s: ComputeState, e: RecordedEvent, d: ev.ServerGroupDeleted) -> Any:
        s.server_groups.pop(d.group_id, None)
        return s
