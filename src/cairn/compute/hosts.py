"""Compute service deciders: an operator enables or disables a host's service, or
forces it down (Nova's ``forced_down``: the host is dead, whatever its last
heartbeat says, so its servers can be deleted locally or evacuated)."""

from __future__ import annotations

from cairn.compute.decide import Writes, write
from cairn.compute.errors import NotFound
from cairn.compute.servers import host_stream
from cairn.events import DomainEvent, Metadata
from cairn.events import compute as ev
from cairn.projections.compute import ComputeState, Host


def find(state: ComputeState, host: str) -> Host:
    found = state.hosts.get(host)
    if found is None:
        raise NotFound(f"Compute host {host} could not be found.")
    return found


def set_enabled(
    state: ComputeState, meta: Metadata, host: str, enabled: bool, reason: str | None
) -> Writes:
    current = find(state, host)
    if current.enabled == enabled and (enabled or current.disabled_reason == (reason or None)):
        return []
    event: DomainEvent = (
        ev.ComputeServiceEnabled(host=host)
        if enabled
        else ev.ComputeServiceDisabled(host=host, reason=reason or "")
    )
    return [write(state, host_stream(host), [event], meta)]


def set_forced_down(state: ComputeState, meta: Metadata, host: str, forced_down: bool) -> Writes:
    if find(state, host).forced_down == forced_down:
        return []
    event = ev.ComputeServiceForcedDown(host=host, forced_down=forced_down)
    return [write(state, host_stream(host), [event], meta)]
