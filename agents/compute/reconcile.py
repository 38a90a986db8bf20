"""Reconciliation at start: what the log says of this host, against what really exists.

The agent may have died at any point: mid-spawn (a domain defined, an overlay
created, or only ServerSpawnStarted appended), after acting and before
appending the outcome, or with requests delivered and never handled. On start
it collects every server it has to do with:

* servers the log placed on, asked actions of, or asked to delete from this
  host, and did not delete (a scan of the log, from where the last start's
  scan ended: :func:`servers_in_log`);
* this host's guests in the hypervisor (domains named ``cairn-<host>-<id>``);
* servers holding a claim on the host's stream;
* server directories under ``<host dir>/instances``;

and looks at each once (:meth:`ComputeAgent.notify` with ``reconciling``). For
a server that lives here the usual step runs: a pending spawn, action or delete
is completed or failed, and a guest that vanished makes the server ERROR. For
one that does not (:func:`not_on_this_host`: deleted, failed, placed elsewhere),
its guest is an orphan and is destroyed, its directory removed, and a claim it
still holds released. A guest named like ours whose server the log does not
know at all is left alone (logged): another cloud on the same hypervisor with
the same host name would name its guests the same way.
"""

from __future__ import annotations

import asyncio

import msgspec

from cairn.agents.compute import steps
from cairn.agents.compute.context import HostContext
from cairn.agents.compute.guest_plan import guest_name, remove_instance_dir, server_of
from cairn.agents.compute.server_view import ServerView
from cairn.events import RecordedEvent
from cairn.events import compute as ev
from cairn.events import compute_migration as mev
from cairn.logs import get_logger
from cairn.store.port import Snapshot

log = get_logger(__name__)

#: Request events that name a host: a server the host has to do with.
_HOST_REQUESTS: dict[str, type[msgspec.Struct]] = {
    "ServerScheduled": ev.ServerScheduled,
    "ServerActionRequested": ev.ServerActionRequested,
    "ServerDeleteRequested": ev.ServerDeleteRequested,
    "ServerRebuildRequested": ev.ServerRebuildRequested,
    "ServerResizeRequested": mev.ServerResizeRequested,
    "ServerResizeConfirmRequested": mev.ServerResizeConfirmRequested,
    "ServerResizeRevertRequested": mev.ServerResizeRevertRequested,
}
_PAGE = 2000
#: The shape of the host's server index snapshot (see :func:`servers_in_log`).
INDEX_VERSION = 1


class _HostOf(msgspec.Struct):
    """The two fields of a request event the scan needs (decoding only these is cheap)."""

    server_id: str
    host: str | None = None


_decode_host_of = msgspec.json.Decoder(_HostOf)


def server_for_host(event: RecordedEvent, host: str) -> str | None:
    """The server a request event asks ``host`` to act on, if it is one."""
    if event.type not in _HOST_REQUESTS or not event.stream.startswith("server-"):
        return None
    request = _decode_host_of.decode(event.data)
    return request.server_id if request.host == host else None


async def servers_to_look_at(ctx: HostContext) -> tuple[set[str], set[str]]:
    """The servers to look at, and (among them) those holding a claim on the host."""
    found = await servers_in_log(ctx)
    for guest in await ctx.driver.list_guests():
        server_id = server_of(ctx.host, guest.name)
        if server_id is not None and guest.managed:
            found.add(server_id)
    claims = await claimed(ctx)
    found |= claims
    found |= await asyncio.to_thread(_instance_dirs, ctx)
    return found, claims


def index_name(host: str) -> str:
    return f"compute-agent-{host}"


async def servers_in_log(ctx: HostContext) -> set[str]:
    """The servers the log names this host for and has not deleted.

    Kept as a snapshot of the store (``compute-agent-<host>``: the set and the
    position it was read to), so a restart scans only what was appended since.
    A deleted server leaves the set: if it left a guest, a directory or a claim
    behind, the other sources of :func:`servers_to_look_at` still find it."""
    name = index_name(ctx.host)
    servers: set[str] = set()
    position = 0
    snapshot = await ctx.store.load_snapshot(name)
    if snapshot is not None and snapshot.version == INDEX_VERSION:
        servers = set(msgspec.json.decode(snapshot.state, type=list[str]))
        position = snapshot.position
    start = position
    while True:
        page = await ctx.store.read_all(after=position, limit=_PAGE)
        for event in page:
            if event.type == "ServerDeleted":
                servers.discard(_decode_host_of.decode(event.data).server_id)
                continue
            server_id = server_for_host(event, ctx.host)
            if server_id is not None:
                servers.add(server_id)
        if page:
            position = page[-1].position
        if len(page) < _PAGE:
            break
    if position != start:
        state = msgspec.json.encode(sorted(servers))
        await ctx.store.save_snapshot(Snapshot(name, INDEX_VERSION, position, state))
    return servers


async def claimed(ctx: HostContext) -> set[str]:
    """Servers holding a claim on this host's stream."""
    holding: set[str] = set()
    for recorded in await ctx.store.read_stream(steps.host_stream(ctx.host)):
        if recorded.type == "HostResourcesClaimed":
            holding.add(_decode_host_of.decode(recorded.data).server_id)
        elif recorded.type == "HostResourcesReleased":
            holding.discard(_decode_host_of.decode(recorded.data).server_id)
    return holding


def _instance_dirs(ctx: HostContext) -> set[str]:
    instances = ctx.config.paths.instances
    if not instances.is_dir():
        return set()
    return {path.name for path in instances.iterdir() if path.is_dir()}


async def not_on_this_host(ctx: HostContext, view: ServerView, *, holds_claim: bool) -> None:
    """Remove what this host still holds for a server that does not live here.
    (Releasing a claim twice changes nothing, so a stale ``holds_claim`` is harmless.)"""
    if view.on_host(ctx.host):
        return
    async with asyncio.timeout(ctx.config.delete_timeout):
        await _remove_leftovers(ctx, view, holds_claim)


async def _remove_leftovers(ctx: HostContext, view: ServerView, holds_claim: bool) -> None:
    name = guest_name(ctx.host, view.server_id)
    if any(guest.name == name for guest in await ctx.driver.list_guests()):
        if view.created is None:
            # No such server in this cloud's log: the guest may be another cloud's
            # that shares this hypervisor and host name (two `cairn up` on one
            # machine). Not provably ours, so left alone.
            log.warning("compute.unknown_guest_left_alone", host=ctx.host, guest=name)
        else:
            log.warning("compute.orphan_destroyed", host=ctx.host, server_id=view.server_id)
            await ctx.driver.destroy(name)
    await remove_instance_dir(ctx.config.paths, view.server_id)
    if holds_claim:
        log.warning("compute.leaked_claim_released", host=ctx.host, server_id=view.server_id)
        await ctx.store.append(steps.release_claim(ctx.host, view, None))
