"""The agent's interface steps: hot-plug a port's NIC into a guest, and unplug it.

An ``attach_interface`` action binds the port to this host (which makes the
network agent wire it), waits for its network's bridge, and plugs a NIC with
the port's MAC and tap name into the guest, live and in its definition; the
outcome is :class:`~cairn.events.compute.ServerInterfaceAttached` with the
action's completion, in one append. ``detach_interface`` unplugs the NIC (the
guest lets go of the PCI device) and appends
:class:`~cairn.events.compute.ServerInterfaceDetached`; the compute service's
port reaper then lets the port go (deleted if the attach made it, unbound if
the user gave it), as Nova does after a detach.
"""

from __future__ import annotations

import asyncio

from cairn.agents.compute.context import HostContext
from cairn.agents.compute.guest_plan import guest_name
from cairn.agents.compute.nics import plug_one
from cairn.agents.compute.server_view import ServerView
from cairn.agents.compute.steps import OBSERVED, end_action, failure_reason
from cairn.agents.network.desired import tap_name
from cairn.events import DomainEvent
from cairn.events import compute as ev
from cairn.logs import get_logger

log = get_logger(__name__)

ACTIONS = frozenset({"attach_interface", "detach_interface"})


async def run(ctx: HostContext, view: ServerView) -> None:
    """Do the requested interface action: its outcome and completion, or ServerActionFailed."""
    assert view.action is not None
    request = view.action
    name = guest_name(ctx.host, view.server_id)
    port_id = request.nic.get("port", "")
    try:
        async with asyncio.timeout(ctx.config.action_timeout):
            if request.action == "attach_interface":
                outcome = await _attach(ctx, view, name, request.nic)
            else:
                outcome = await _detach(ctx, view, name, request.nic)
            state = await ctx.driver.state(name)
    except Exception as exc:
        reason = failure_reason(exc, request.action, ctx.config.action_timeout)
        await end_action(ctx, view, failed=f"{reason} (port {port_id})")
        return
    done = OBSERVED.get(state, (view.vm_state, 0))
    await end_action(ctx, view, done=done, with_events=[outcome])
    log.info(
        "compute.interface_done",
        host=ctx.host,
        server_id=view.server_id,
        action=request.action,
        port_id=port_id,
    )


async def _attach(
    ctx: HostContext, view: ServerView, name: str, entry: dict[str, str]
) -> DomainEvent:
    nic, addresses, _ = await plug_one(
        ctx.ports, ctx.host, entry["port"], bridge_wait=ctx.config.bridge_wait
    )
    await ctx.driver.attach_nic(name, nic)
    return ev.ServerInterfaceAttached(
        server_id=view.server_id,
        host=ctx.host,
        nic={**entry, "mac": nic.mac},
        addresses=addresses,
    )


async def _detach(
    ctx: HostContext, view: ServerView, name: str, entry: dict[str, str]
) -> DomainEvent:
    port_id = entry.get("port", "")
    tap = tap_name(port_id)
    plugged = next((n.mac for n in await ctx.driver.nics(name) if n.tap == tap), "")
    if plugged:
        await ctx.driver.detach_nic(name, plugged, timeout=ctx.config.action_timeout / 2)
    # Gone already (an agent that died after unplugging it): the MAC the attach
    # recorded still names the addresses the server drops.
    mac = plugged or entry.get("mac", "")
    return ev.ServerInterfaceDetached(
        server_id=view.server_id, host=ctx.host, port_id=port_id, mac=mac
    )
