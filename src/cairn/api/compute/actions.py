"""``POST /servers/{id}/action``: power actions, lock, console output, force delete,
snapshots, rebuild, shelving (``shelve.py``), rescue (``rescue.py``), resize and
migrate (:mod:`.resize`).

Each action is a small function; :data:`ACTIONS` maps the body's key to it.
Power actions append a request for the server's agent and answer 202 at once;
the server's task state says what is in flight until the agent answers.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.compute import passwords, rebuild, rescue, security_groups, shelve, snapshots
from cairn.api.compute.admin_actions import ACTIONS as ADMIN_ACTIONS
from cairn.api.compute.auth import authorize, is_admin, metadata
from cairn.api.compute.common import compute, invalid, v
from cairn.api.compute.console import console_output
from cairn.api.compute.network_proxy import ACTIONS as FLOATING_IP_ACTIONS
from cairn.api.compute.remote_consoles import LEGACY_ACTIONS, legacy_action
from cairn.api.compute.resize import ACTIONS as RESIZE_ACTIONS
from cairn.api.compute.servers import find_server, force_delete
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute import servers
from cairn.identity.service import Authenticated
from cairn.projections.compute import Server

#: Nova's power state "running"
RUNNING = 1

Action = Callable[[web.Request, Authenticated, Server, Any], Awaitable[web.Response]]


def _power(name: str) -> Action:
    async def run(
        request: web.Request, who: Authenticated, server: Server, args: Any
    ) -> web.Response:
        await authorize(
            request, f"os_compute_api:servers:{name}", {"project_id": server.project_id}
        )
        reboot_type = None
        if name == "reboot":
            if not isinstance(args, dict) or "type" not in args:
                raise HTTPFault.bad_request("Invalid input: 'type' is a required property")
            reboot_type = args["type"].upper() if isinstance(args["type"], str) else args["type"]
            if reboot_type not in ("SOFT", "HARD"):
                raise invalid("type", args["type"], "It must be 'SOFT' or 'HARD'")
        meta, admin = metadata(request, who), is_admin(who)
        await compute(request).execute(
            lambda s: servers.action(
                s, meta, servers.find(s, server.id), name, is_admin=admin, reboot_type=reboot_type
            )
        )
        return web.Response(status=202)

    return run


async def _lock(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    await authorize(request, "os_compute_api:servers:lock", {"project_id": server.project_id})
    reason = None
    if isinstance(args, dict) and "locked_reason" in args:
        if v(request) < (2, 73):
            raise HTTPFault.bad_request("Invalid input: 'locked_reason' needs microversion 2.73")
        reason = args["locked_reason"]
        if not isinstance(reason, str) or len(reason) > 255:
            raise invalid("locked_reason", reason, "It must be a string of at most 255 characters")
    meta, admin = metadata(request, who), is_admin(who)
    await compute(request).execute(
        lambda s: servers.lock(s, meta, servers.find(s, server.id), is_admin=admin, reason=reason)
    )
    return web.Response(status=202)


async def _unlock(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    await authorize(request, "os_compute_api:servers:unlock", {"project_id": server.project_id})
    meta, admin = metadata(request, who), is_admin(who)
    await compute(request).execute(
        lambda s: servers.unlock(s, meta, servers.find(s, server.id), is_admin=admin)
    )
    return web.Response(status=202)


async def _crash_dump(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    if v(request) < (2, 17):
        raise HTTPFault.bad_request("There is no such action: trigger_crash_dump")
    if args is not None:
        raise invalid("trigger_crash_dump", args, "It must be null")
    if server.power_state != RUNNING:
        raise HTTPFault.conflict(f"Instance {server.id} is not running.")
    return await _power("trigger_crash_dump")(request, who, server, None)


async def _force_delete(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    return await force_delete(request, who, server)


ACTIONS: dict[str, Action] = {
    "os-start": _power("start"),
    "os-stop": _power("stop"),
    "reboot": _power("reboot"),
    "pause": _power("pause"),
    "unpause": _power("unpause"),
    "suspend": _power("suspend"),
    "resume": _power("resume"),
    "lock": _lock,
    "unlock": _unlock,
    "os-getConsoleOutput": console_output,
    **{name: legacy_action(protocol) for name, protocol in LEGACY_ACTIONS.items()},
    "forceDelete": _force_delete,
    "createImage": snapshots.create_image,
    "rebuild": rebuild.rebuild,
    "changePassword": passwords.change_password,
    "restore": _power("restore"),
    "trigger_crash_dump": _crash_dump,
    "shelve": shelve.shelve,
    "shelveOffload": shelve.shelve_offload,
    "unshelve": shelve.unshelve,
    "rescue": rescue.rescue,
    "unrescue": rescue.unrescue,
    "addSecurityGroup": security_groups.add_to_server,
    "removeSecurityGroup": security_groups.remove_from_server,
    **ADMIN_ACTIONS,
    **FLOATING_IP_ACTIONS,
    **RESIZE_ACTIONS,
}


async def server_action(request: web.Request) -> web.Response:
    who = caller(request)
    server = find_server(request, who)
    body = await read_json(request)
    if not isinstance(body, dict) or len(body) != 1:
        raise HTTPFault.bad_request("Invalid input: the body names exactly one action")
    ((name, args),) = body.items()
    action = ACTIONS.get(name)
    if action is None:
        raise HTTPFault.bad_request(f"There is no such action: {name}")
    return await action(request, who, server, args)
