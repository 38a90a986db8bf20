"""The ``changePassword`` server action: ``{"adminPass": "..."}``, 202 once the
guest's agent has set it.

Nova's call is synchronous: the API answers after the compute host did it, and
a guest whose agent fails is a 409. Here the request is decided on the server's
stream (the password sealed for the host's agent) and the handler waits, at
most :data:`ANSWER_WAIT` seconds, for the agent's outcome; past that it answers
202 with the action still under way (its outcome then shows in the server's
fault and instance actions).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from aiohttp import web

from cairn.api.compute.auth import authorize, is_admin, metadata
from cairn.api.compute.common import compute, invalid
from cairn.api.faults import HTTPFault
from cairn.compute import passwords, servers
from cairn.compute.service import Compute
from cairn.identity.service import Authenticated
from cairn.projections.compute import Server

#: how long the API waits for the agent's answer
ANSWER_WAIT = 60.0


def _password(args: Any) -> str:
    if not isinstance(args, dict):
        raise invalid("changePassword", args, "It must be an object")
    unknown = sorted(set(args) - {"adminPass"})
    if unknown:
        raise HTTPFault.bad_request(
            "Invalid input for field/attribute changePassword. Additional properties are not "
            f"allowed ({', '.join(repr(k) for k in unknown)} were unexpected)"
        )
    if "adminPass" not in args:
        raise HTTPFault.bad_request("Invalid input: 'adminPass' is a required property")
    password = args["adminPass"]
    if not isinstance(password, str):
        raise invalid("adminPass", password, "It must be a string")
    return password


async def change_password(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    await authorize(request, "os_compute_api:os-admin-password", {"project_id": server.project_id})
    password = _password(args)
    service, meta, admin = compute(request), metadata(request, who), is_admin(who)
    sealed = service.secrets.seal(password)
    fault_before = service.state.servers[server.id].fault
    await service.execute(
        lambda s: passwords.change(s, meta, servers.find(s, server.id), sealed, is_admin=admin)
    )
    failure = await _outcome(service, server.id, fault_before)
    if failure is not None:
        raise HTTPFault.conflict(
            f"Failed to set admin password on {server.id} because error setting admin "
            f"password: {failure}"
        )
    return web.Response(status=202)


async def _outcome(service: Compute, server_id: str, fault_before: object) -> str | None:
    """None once the agent set the password (or the wait ran out); why, if it failed."""
    deadline = time.monotonic() + ANSWER_WAIT
    while time.monotonic() < deadline:
        server = service.state.servers.get(server_id)
        if server is None or server.deleted:
            return "the server was deleted meanwhile"
        if server.pending_action != passwords.ACTION:
            if server.fault is not None and server.fault is not fault_before:
                return server.fault.message
            return None
        await asyncio.sleep(0.02)
    return None
