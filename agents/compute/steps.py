"""The agent's steps for one server: spawn, power actions, delete, power-state sync.

Each step acts on the hypervisor under a deadline and ends in events appended
to the server's stream *at the version the step decided on* (with the host's
and the project's streams where claims and quota are released, in the same
atomic append). If the stream moved meanwhile (the API appended a request), the
outcome is re-decided on the new stream: appended if the step's work is still
what the stream waits for, dropped otherwise. So a duplicate can never append
twice, and a step that fails or times out always ends in a failure event.

Every outcome carries the request's metadata (request id, user, project), with
the request event's id as ``causation_id``: the API's instance actions are
built from that.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from cairn.agents.compute import config_drive, volume_boot, volume_records
from cairn.agents.compute.context import HostContext
from cairn.agents.compute.driver import GuestNotFound, GuestState, HypervisorDriver
from cairn.agents.compute.guest_plan import guest_name, plan_guest, remove_instance_dir
from cairn.agents.compute.images import ImageCorrupt, ImageError, ImageUnavailable
from cairn.agents.compute.nics import plug
from cairn.agents.compute.server_view import ServerView, fold
from cairn.errors import CairnError
from cairn.events import ANY_VERSION, DomainEvent, Metadata, RecordedEvent, registry
from cairn.events import compute as ev
from cairn.events.compute import host_stream as host_stream
from cairn.events.compute import quota_stream as quota_stream
from cairn.events.compute import server_stream as server_stream
from cairn.logs import get_logger
from cairn.store.port import StreamWrite, WrongExpectedVersion

log = get_logger(__name__)

#: Re-decisions of one outcome before the step gives up (the API kept appending).
MAX_CONFLICTS = 10

#: Nova's power state codes.
RUNNING, PAUSED, SHUTDOWN, CRASHED, SUSPENDED = 1, 3, 4, 6, 7

#: What a guest's state means for the server: (vm_state, power_state).
OBSERVED: dict[GuestState, tuple[str, int]] = {
    GuestState.RUNNING: ("active", RUNNING),
    GuestState.PAUSED: ("paused", PAUSED),
    GuestState.SUSPENDED: ("suspended", SUSPENDED),
    GuestState.SHUTOFF: ("stopped", SHUTDOWN),
    GuestState.CRASHED: ("stopped", CRASHED),
}

#: vm_states in which a server has a guest on its host.
HAS_GUEST = frozenset({"active", "stopped", "paused", "suspended"})


class OutcomeConflict(CairnError):
    """The server's stream kept moving while the agent tried to append an outcome."""


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def caused_by(cause: RecordedEvent | None) -> Metadata:
    """The metadata of an outcome: the request's, caused by the request event."""
    if cause is None:
        return Metadata()
    m = cause.metadata
    return Metadata(
        request_id=m.request_id,
        user_id=m.user_id,
        project_id=m.project_id,
        causation_id=str(cause.id),
        correlation_id=m.correlation_id or m.request_id,
    )


def on_server(
    view: ServerView, events: Sequence[DomainEvent], cause: RecordedEvent | None
) -> StreamWrite:
    meta = caused_by(cause)
    return StreamWrite(
        server_stream(view.server_id),
        [registry.new(e, meta) for e in events],
        expected_version=view.version,
    )


def release_claim(host: str, view: ServerView, cause: RecordedEvent | None) -> StreamWrite:
    event = ev.HostResourcesReleased(host=host, server_id=view.server_id)
    return StreamWrite(host_stream(host), [registry.new(event, caused_by(cause))], ANY_VERSION)


async def load(ctx: HostContext, server_id: str) -> ServerView:
    return fold(server_id, await ctx.store.read_stream(server_stream(server_id)))


async def append_outcome(
    ctx: HostContext,
    view: ServerView,
    still_pending: Callable[[ServerView], bool],
    writes: Callable[[ServerView], Sequence[StreamWrite]],
) -> bool:
    """Append ``writes(view)`` at the stream's version, re-deciding on conflict;
    False when the stream no longer waits for it (``still_pending`` says).

    ``view`` is the stream as the step last knew it: the first try appends at its
    version without reading the stream again (usually nobody appended meanwhile)."""
    for _ in range(MAX_CONFLICTS):
        if not still_pending(view):
            log.info("compute.outcome_dropped", host=ctx.host, server_id=view.server_id)
            return False
        try:
            await ctx.store.append(*writes(view))
        except WrongExpectedVersion:
            view = await load(ctx, view.server_id)
            continue
        return True
    raise OutcomeConflict(
        f"server {view.server_id}: its stream kept changing ({MAX_CONFLICTS} tries)"
    )


async def remove_guest(ctx: HostContext, server_id: str) -> None:
    """Destroy the server's guest on this host and its files (idempotent)."""
    await ctx.driver.destroy(guest_name(ctx.host, server_id))
    await remove_instance_dir(ctx.config.paths, server_id)


# -- spawn ----------------------------------------------------------------------------------


def _spawn_pending(host: str, attempt: int) -> Callable[[ServerView], bool]:
    def pending(view: ServerView) -> bool:
        return (
            view.host == host
            and view.attempt == attempt
            and not view.spawned
            and not view.spawn_failed
            and not view.deleted
        )

    return pending


async def spawn(ctx: HostContext, view: ServerView) -> None:
    """Build and start the server's guest: ServerSpawnStarted, then ServerSpawned,
    or ServerSpawnFailed with the release of the host's claim."""
    request = view.created
    assert request is not None
    host, attempt, cause = ctx.host, view.attempt, view.scheduled_event
    # What an earlier attempt on this host (a process that died mid-spawn) may have left.
    leftovers = view.spawn_starts > 0 or view.attempt > 1
    started = ev.ServerSpawnStarted(server_id=view.server_id, host=host)
    try:
        result = await ctx.store.append(on_server(view, [started], cause))
    except WrongExpectedVersion:
        return  # the stream moved: the caller decides again
    view = dataclasses.replace(
        view,
        version=result.versions[server_stream(view.server_id)],
        spawn_starts=view.spawn_starts + 1,
    )
    name = guest_name(host, view.server_id)
    log.info("compute.spawn_started", host=host, server_id=view.server_id, attempt=attempt)
    try:
        async with asyncio.timeout(ctx.config.spawn_timeout):
            if leftovers:
                await remove_guest(ctx, view.server_id)
            volumes = await volume_boot.prepare(ctx, request)
            definition = await plan_guest(
                host, ctx.config.paths, ctx.images, request, boot_disk=volumes.root
            )
            plugged = await plug(ctx.ports, host, request, bridge_wait=ctx.config.bridge_wait)
            definition = dataclasses.replace(definition, nics=plugged.nics, volumes=volumes.others)
            if request.config_drive:
                instance = config_drive.for_request(
                    request, plugged.ports, ctx.config.availability_zone
                )
                drive = await config_drive.build(
                    ctx.config.paths.instance(view.server_id), instance
                )
                definition = dataclasses.replace(definition, config_drive=drive)
            await ctx.driver.spawn(definition)
    except Exception as exc:
        reason = failure_reason(exc, "spawn", ctx.config.spawn_timeout)
        log.warning("compute.spawn_failed", host=host, server_id=view.server_id, reason=reason)
        await _quietly(remove_guest(ctx, view.server_id))
        # An image that does not exist or cannot boot fails on every host alike.
        retryable = not isinstance(exc, ImageError) or isinstance(
            exc, ImageUnavailable | ImageCorrupt
        )
        failed = ev.ServerSpawnFailed(
            server_id=view.server_id, host=host, attempt=attempt, reason=reason, retryable=retryable
        )
        given_back = _elsewhere(volume_boot.undo(request), cause)
        await append_outcome(
            ctx,
            view,
            _spawn_pending(host, attempt),
            lambda v: [on_server(v, [failed], cause), release_claim(host, v, cause), *given_back],
        )
        return
    spawned = ev.ServerSpawned(
        server_id=view.server_id,
        host=host,
        launched_at=now(),
        instance_name=name,
        console_log=str(definition.console_log),
        addresses=plugged.addresses,
    )
    recorded = _elsewhere(volumes.elsewhere, cause)
    await append_outcome(
        ctx,
        view,
        _spawn_pending(host, attempt),
        lambda v: [on_server(v, [*volumes.on_server, spawned], cause), *recorded],
    )
    log.info("compute.spawned", host=host, server_id=view.server_id, instance=name)


def _elsewhere(
    pairs: Sequence[tuple[str, DomainEvent]], cause: RecordedEvent | None
) -> list[StreamWrite]:
    """``(stream, event)`` pairs of other streams (volumes'), at any version."""
    return [
        StreamWrite(stream, [registry.new(event, caused_by(cause))], ANY_VERSION)
        for stream, event in pairs
    ]


async def fail_spawn(ctx: HostContext, view: ServerView) -> None:
    """A spawn the agent kept dying in: clean up and fail it (the scheduler may retry elsewhere)."""
    host, attempt, cause = ctx.host, view.attempt, view.scheduled_event
    await remove_guest(ctx, view.server_id)
    failed = ev.ServerSpawnFailed(
        server_id=view.server_id,
        host=host,
        attempt=attempt,
        reason=f"the compute agent of {host} stopped during this spawn {view.spawn_starts} times",
    )
    await append_outcome(
        ctx,
        view,
        _spawn_pending(host, attempt),
        lambda v: [on_server(v, [failed], cause), release_claim(host, v, cause)],
    )


# -- delete -----------------------------------------------------------------------------------


async def delete(ctx: HostContext, view: ServerView) -> None:
    """Destroy the guest: ServerDeleted + the host's claim + the project's quota, at once."""
    host, cause = ctx.host, view.delete_event
    request_id = None if cause is None else cause.id

    def pending(v: ServerView) -> bool:
        return not v.deleted and v.delete_event is not None and v.delete_event.id == request_id

    try:
        async with asyncio.timeout(ctx.config.delete_timeout):
            await remove_guest(ctx, view.server_id)
    except Exception as exc:
        reason = failure_reason(exc, "delete", ctx.config.delete_timeout)
        log.warning("compute.delete_failed", host=host, server_id=view.server_id, reason=reason)
        errored = ev.ServerErrored(
            server_id=view.server_id, fault_code=500, fault_message=f"Delete failed: {reason}"
        )
        await append_outcome(ctx, view, pending, lambda v: [on_server(v, [errored], cause)])
        return

    def writes(v: ServerView) -> list[StreamWrite]:
        deleted = ev.ServerDeleted(server_id=v.server_id, deleted_at=now())
        # The guest is gone, and its volumes with it: detached in the same append.
        detached = volume_records.detached_on_delete(host, v)
        result = [
            on_server(v, [*detached.on_server, deleted], cause),
            release_claim(host, v, cause),
        ]
        result += [
            StreamWrite(stream, [registry.new(e, caused_by(cause))], ANY_VERSION)
            for stream, e in detached.elsewhere
        ]
        if v.project_id is not None:
            released = ev.ComputeQuotaReleased(project_id=v.project_id, server_id=v.server_id)
            result.append(
                StreamWrite(quota_stream(v.project_id), [registry.new(released, caused_by(cause))])
            )
        return result

    if await append_outcome(ctx, view, pending, writes):
        log.info("compute.deleted", host=host, server_id=view.server_id)
        await volume_records.delete_on_termination(ctx, view)


# -- power actions ------------------------------------------------------------------------------


async def end_action(
    ctx: HostContext,
    view: ServerView,
    *,
    done: tuple[str, int] | None = None,
    failed: str | None = None,
    with_events: Sequence[DomainEvent] = (),
    also: Sequence[tuple[str, DomainEvent]] = (),
) -> bool:
    """Append the outcome of the action ``view`` waits for: ``with_events`` and
    ServerActionCompleted (``done``: the vm_state and power state now), or
    ServerActionFailed (``failed``: the reason), caused by the request; dropped if
    the stream no longer waits for that request. ``also`` are ``(stream, event)``
    pairs of other streams (a volume's) that go in the same append, at any version."""
    assert view.action is not None
    request, cause = view.action, view.action_event
    request_id = None if cause is None else cause.id

    def pending(v: ServerView) -> bool:
        return v.action_event is not None and v.action_event.id == request_id

    events: list[DomainEvent]
    if failed is not None:
        log.warning(
            "compute.action_failed",
            host=ctx.host,
            server_id=view.server_id,
            action=request.action,
            reason=failed,
        )
        events = [
            ev.ServerActionFailed(
                server_id=view.server_id, host=ctx.host, action=request.action, reason=failed
            )
        ]
    else:
        assert done is not None
        completed = ev.ServerActionCompleted(
            server_id=view.server_id,
            host=ctx.host,
            action=request.action,
            vm_state=done[0],
            power_state=done[1],
        )
        events = [*with_events, completed]
    others = [
        StreamWrite(stream, [registry.new(event, caused_by(cause))], ANY_VERSION)
        for stream, event in also
    ]
    return await append_outcome(
        ctx, view, pending, lambda v: [on_server(v, events, cause), *others]
    )


async def action(ctx: HostContext, view: ServerView) -> None:
    """Do the requested power action: ServerActionCompleted or ServerActionFailed."""
    assert view.action is not None
    request = view.action
    name = guest_name(ctx.host, view.server_id)
    try:
        async with asyncio.timeout(ctx.config.action_timeout):
            done = await _perform(ctx.driver, name, request, ctx.config.clean_shutdown_timeout)
    except Exception as exc:
        reason = failure_reason(exc, request.action, ctx.config.action_timeout)
        await end_action(ctx, view, failed=reason)
        return
    await end_action(ctx, view, done=done)
    log.info("compute.action_done", host=ctx.host, server_id=view.server_id, action=request.action)


async def _perform(
    driver: HypervisorDriver, name: str, request: ev.ServerActionRequested, shutdown: float
) -> tuple[str, int]:
    match request.action:
        case "start":
            await driver.power_on(name)
            return "active", RUNNING
        case "stop":
            await driver.power_off(name, timeout=shutdown)
            return "stopped", SHUTDOWN
        case "reboot" if (request.reboot_type or "SOFT").upper() == "HARD":
            # Nova's hard reboot works from any state: the guest ends up running.
            if await driver.state(name) is GuestState.RUNNING:
                await driver.reboot(name, hard=True)
            else:
                await driver.power_off(name, timeout=0)
                await driver.power_on(name)
            return "active", RUNNING
        case "reboot":
            # A clean shutdown (forced after the timeout, as Nova falls back to a
            # hard reboot), then a start: a guest that ignores ACPI still reboots.
            await driver.power_off(name, timeout=shutdown)
            await driver.power_on(name)
            return "active", RUNNING
        case "pause":
            await driver.pause(name)
            return "paused", PAUSED
        case "unpause":
            await driver.unpause(name)
            return "active", RUNNING
        case "suspend":
            await driver.suspend(name)
            return "suspended", SUSPENDED
        case "resume":
            await driver.resume(name)
            return "active", RUNNING
        case "soft_delete":
            # Kept for restore (Nova's reclaim_instance_interval): stopped, not destroyed.
            await driver.power_off(name, timeout=shutdown)
            return "soft-delete", SHUTDOWN
        case "restore":
            await driver.power_on(name)
            return "active", RUNNING
        case "trigger_crash_dump":
            # An NMI: the guest's kernel decides (a dump, a panic, or a line on the
            # console); the server's state is what the guest is in afterwards.
            await driver.inject_nmi(name)
            return OBSERVED.get(await driver.state(name), ("active", RUNNING))
    raise ValueError(f"unknown action {request.action!r}")


# -- what the guest did by itself -----------------------------------------------------------------


async def sync_power_state(ctx: HostContext, view: ServerView) -> None:
    """Compare the guest with the server's vm_state; append what changed by itself
    (ServerPowerStateChanged), or ServerErrored when the guest vanished."""
    if view.vm_state not in HAS_GUEST:
        return
    try:
        async with asyncio.timeout(ctx.config.action_timeout):
            state = await ctx.driver.state(guest_name(ctx.host, view.server_id))
    except GuestNotFound:
        state = None
    before = view.vm_state

    def pending(v: ServerView) -> bool:
        return v.vm_state == before and v.action is None and v.delete is None and not v.deleted

    if state is None:
        log.warning("compute.guest_vanished", host=ctx.host, server_id=view.server_id)
        errored = ev.ServerErrored(
            server_id=view.server_id,
            fault_code=500,
            fault_message=f"The server's guest vanished from its host {ctx.host}.",
        )
        await append_outcome(ctx, view, pending, lambda v: [on_server(v, [errored], None)])
        return
    observed = OBSERVED.get(state)
    if observed is None or observed[0] == before:
        return  # in transition (shutting down), unknown, or as the log says
    vm_state, power_state = observed
    changed = ev.ServerPowerStateChanged(
        server_id=view.server_id, host=ctx.host, vm_state=vm_state, power_state=power_state
    )
    if await append_outcome(ctx, view, pending, lambda v: [on_server(v, [changed], None)]):
        log.info(
            "compute.power_state_changed",
            host=ctx.host,
            server_id=view.server_id,
            vm_state=vm_state,
        )


# -- helpers -------------------------------------------------------------------------------------


def failure_reason(exc: BaseException, what: str, timeout: float) -> str:
    if isinstance(exc, TimeoutError):
        return f"the {what} did not finish within its {timeout:g} s deadline"
    text = str(exc) or type(exc).__name__
    return text if isinstance(exc, CairnError) else f"{type(exc).__name__}: {text}"


async def _quietly(cleanup: object) -> None:
    """Await a cleanup whose failure must not hide the error being reported (the
    reconciler removes what it left)."""
    assert asyncio.iscoroutine(cleanup)
    try:
        await cleanup
    except Exception as exc:
        log.warning("compute.cleanup_failed", error=str(exc))
