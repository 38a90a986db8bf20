"""Remote consoles: who may open a server's serial console, and for how long.

Nova hands out a console URL with a token its console proxy checks. Cairn's
grant is an event, :class:`ServerConsoleTokenIssued`, on a stream named after
the token's SHA-256 (the token is never stored), naming the server, the host its
guest runs on and when the grant expires (Nova's ``[consoleauth] token_ttl``,
600 s). Only the serial protocol exists: a guest has no graphics device.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from urllib.parse import urlencode

import msgspec

from cairn.compute.errors import Conflict, Invalid
from cairn.events import compute as ev
from cairn.projections.compute import ComputeState, Server
from cairn.store.port import EventStore

#: How long a console URL stays usable (Nova's token_ttl default).
TOKEN_TTL = 600.0
SERIAL = "serial"
RUNNING = 1  # Nova's power_state code
_SERIAL_CAPABILITY = "serial-console"
_issued = msgspec.json.Decoder(ev.ServerConsoleTokenIssued).decode


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def find_token(
    store: EventStore, token: str, *, now: float | None = None
) -> ev.ServerConsoleTokenIssued | None:
    """The grant ``token`` names, if it exists and has not expired."""
    if not token or len(token) > 128:
        return None
    records = await store.read_stream(ev.console_token_stream(token_hash(token)), limit=1)
    if not records:
        return None
    grant = _issued(records[0].data)
    if grant.expires_at <= (time.time() if now is None else now):
        return None
    return grant


def unavailable(console_type: str) -> Invalid:
    return Invalid(f"Unavailable console type {console_type}.")


def issue(
    state: ComputeState, server: Server, console_type: str, *, now: float
) -> tuple[str, ev.ServerConsoleTokenIssued]:
    """A new token for the server's serial console, and its grant. Nova's
    refusals: another console type, or a host without serial consoles (400); a
    server with no guest on a host yet, or not running (409)."""
    if console_type != SERIAL:
        raise unavailable(console_type)
    if server.host is None or not server.launched_at or server.vm_state == "building":
        raise Conflict(f"Instance {server.id} is not ready.")
    host = state.hosts.get(server.host)
    if host is None or _SERIAL_CAPABILITY not in host.capabilities or not host.serial_console_url:
        raise unavailable(console_type)
    if server.vm_state not in ("active", "rescued") or server.power_state != RUNNING:
        raise Conflict("Guest does not have a console available.")
    token = secrets.token_urlsafe(24)
    url = f"{host.serial_console_url.rstrip('?')}?{urlencode({'token': token})}"
    grant = ev.ServerConsoleTokenIssued(
        server_id=server.id,
        project_id=server.project_id,
        host=server.host,
        protocol=SERIAL,
        console_type=console_type,
        token_sha256=token_hash(token),
        expires_at=now + TOKEN_TTL,
        url=host.serial_console_url,
    )
    return url, grant
