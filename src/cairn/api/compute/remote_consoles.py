"""Remote consoles: ``POST /servers/{id}/remote-consoles`` (2.6+), the older
``os-get*Console`` actions, and an admin's ``GET /os-console-auth-tokens/{token}``.

The answer is a URL of the serial console proxy of the server's host with a
token in it (:mod:`cairn.compute.consoles` grants it, in the log;
:mod:`cairn.api.compute.serial_proxy` checks it). Guests have no graphics, so
VNC, SPICE, RDP and MKS are "Unavailable console type" (400), as in a Nova whose
proxies for them are switched off; an unknown protocol or type, or a type that
is not the protocol's, is a 400 as Nova's schema gives it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.compute.auth import authorize, metadata
from cairn.api.compute.common import body_of, compute, json, now, v
from cairn.api.compute.servers import find_server
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.api.keys import STORE
from cairn.compute import consoles
from cairn.compute.consoles import find_token
from cairn.events import NO_STREAM, registry
from cairn.events import compute as ev
from cairn.identity.service import Authenticated
from cairn.projections.compute import Server
from cairn.store.port import StreamWrite

#: protocol -> the console types it has (Nova's schema; ``mks``/``webmks`` at 2.8)
_TYPES = {
    "vnc": ("novnc", "xvpvnc"),
    "spice": ("spice-html5",),
    "rdp": ("rdp-html5",),
    "serial": ("serial",),
    "mks": ("webmks",),
}
#: the legacy action -> its protocol
LEGACY_ACTIONS = {
    "os-getVNCConsole": "vnc",
    "os-getSPICEConsole": "spice",
    "os-getRDPConsole": "rdp",
    "os-getSerialConsole": "serial",
}


async def _grant(request: web.Request, who: Authenticated, server: Server, kind: str) -> str:
    """Issue a token for the server's console of type ``kind``; its URL."""
    await authorize(request, "os_compute_api:os-remote-consoles", {"project_id": server.project_id})
    url, grant = consoles.issue(compute(request).state, server, kind, now=now())
    stream = ev.console_token_stream(grant.token_sha256)
    await request.config_dict[STORE].append(
        StreamWrite(stream, [registry.new(grant, metadata(request, who))], NO_STREAM)
    )
    return url


def _requested(request: web.Request, data: dict[str, Any]) -> tuple[str, str]:
    protocols = dict(_TYPES)
    if v(request) < (2, 8):
        protocols.pop("mks")
    unknown = sorted(set(data) - {"protocol", "type"})
    if unknown:
        raise HTTPFault.bad_request(
            "Invalid input for field/attribute remote_console. Additional properties are not "
            f"allowed ({', '.join(repr(k) for k in unknown)} were unexpected)"
        )
    protocol, kind = data.get("protocol"), data.get("type")
    if protocol is None or kind is None:
        missing = "protocol" if protocol is None else "type"
        raise HTTPFault.bad_request(f"Invalid input: '{missing}' is a required property")
    if protocol not in protocols:
        raise HTTPFault.bad_request(
            f"Invalid input for field/attribute protocol. Value: {protocol}. "
            f"{protocol!r} is not one of {sorted(protocols)}"
        )
    known = [t for types in protocols.values() for t in types]
    if kind not in known:
        raise HTTPFault.bad_request(
            f"Invalid input for field/attribute type. Value: {kind}. {kind!r} is not one of {known}"
        )
    if kind not in protocols[protocol]:
        raise HTTPFault.bad_request(f"Invalid console type {kind} for protocol {protocol}.")
    return protocol, kind


async def create_remote_console(request: web.Request) -> web.Response:
    if v(request) < (2, 6):
        raise HTTPFault.not_found("The resource could not be found.")
    who = caller(request)
    server = find_server(request, who)
    data = await body_of(request, "remote_console")
    protocol, kind = _requested(request, data)
    url = await _grant(request, who, server, kind)
    return json({"remote_console": {"protocol": protocol, "type": kind, "url": url}})


def legacy_action(protocol: str) -> Any:
    """The ``os-get<Protocol>Console`` action: ``{"type": ...}`` -> ``{"console": ...}``."""

    async def action(
        request: web.Request, who: Authenticated, server: Server, args: Any
    ) -> web.Response:
        if not isinstance(args, dict) or set(args) != {"type"}:
            raise HTTPFault.bad_request(
                'Invalid input for field/attribute type: the body is {"type": <console type>}'
            )
        kind = args["type"]
        if kind not in _TYPES[protocol]:
            raise HTTPFault.bad_request(
                f"Invalid input for field/attribute type. Value: {kind}. "
                f"{kind!r} is not one of {list(_TYPES[protocol])}"
            )
        url = await _grant(request, who, server, kind)
        return json({"console": {"type": kind, "url": url}})

    return action


async def show_console_token(request: web.Request) -> web.Response:
    """What a token grants (an admin's view, Nova's ``os-console-auth-tokens``)."""
    if v(request) < (2, 31):
        raise HTTPFault.bad_request(
            "The requested console type details are not accessible: only rdp-html5 "
            "tokens are shown before microversion 2.31."
        )
    await authorize(request, "os_compute_api:os-console-auth-tokens")
    token = request.match_info["console_token"]
    grant = await find_token(request.config_dict[STORE], token, now=now())
    if grant is None:
        raise HTTPFault.not_found("The token does not exist or has expired.")
    port = grant.url.rsplit(":", 1)[-1].split("/", 1)[0] if grant.url else ""
    return json(
        {
            "console": {
                "instance_uuid": grant.server_id,
                "host": grant.host,
                "port": int(port) if port.isdigit() else None,
                "internal_access_path": None,
            }
        }
    )
