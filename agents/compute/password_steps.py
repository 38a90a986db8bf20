"""The agent's ``changePassword`` step: the guest's agent sets its administrator's password.

The password arrives sealed (:mod:`cairn.sealing`) and is opened only here, for
the hypervisor's call (libvirt's ``virDomainSetUserPassword``, which speaks to
the guest agent on the ``org.qemu.guest_agent.0`` port). Nova sets the password
of ``root`` on Linux guests; so does this step. The outcome is the action's
completion or failure (a guest without an agent fails once libvirt gives up
waiting for it); the server's state does not change.
"""

from __future__ import annotations

import asyncio

from cairn.agents.compute.context import HostContext
from cairn.agents.compute.guest_plan import guest_name
from cairn.agents.compute.server_view import ServerView
from cairn.agents.compute.steps import OBSERVED, end_action, failure_reason
from cairn.logs import get_logger

log = get_logger(__name__)

ACTIONS = frozenset({"changePassword"})
#: the account Nova's libvirt driver sets (``root`` on Linux guests)
USER = "root"


async def run(ctx: HostContext, view: ServerView) -> None:
    """Set the password: ServerActionCompleted, or ServerActionFailed with the reason."""
    assert view.action is not None
    request = view.action
    name = guest_name(ctx.host, view.server_id)
    try:
        async with asyncio.timeout(ctx.config.action_timeout):
            password = ctx.open_secret(request.sealed_password)
            if password is None:
                raise ValueError("the request carries no password")
            await ctx.driver.set_password(name, USER, password)
            state = await ctx.driver.state(name)
    except Exception as exc:
        reason = failure_reason(exc, request.action, ctx.config.action_timeout)
        log.warning(
            "compute.password_failed", host=ctx.host, server_id=view.server_id, reason=reason
        )
        await end_action(ctx, view, failed=reason)
        return
    await end_action(ctx, view, done=OBSERVED.get(state, (view.vm_state, 0)))
    log.info("compute.password_set", host=ctx.host, server_id=view.server_id)
