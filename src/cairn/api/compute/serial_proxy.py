"""The serial console proxy: a guest's console as a WebSocket, for a token.

Nova's ``nova-serialproxy`` lets a browser or ``novaconsole`` reach a guest's
serial port with the URL ``os-getSerialConsole``/``remote-consoles`` answered
(``ws://HOST:PORT/?token=...``). Here the proxy runs beside the compute hosts
whose guests it serves (in ``cairn up`` and in ``cairn agent compute``), since a
guest's console is a stream of the libvirtd on its own host. It checks the token
against the log (``consoletoken-<sha256>``, :class:`ServerConsoleTokenIssued`:
issued for one of its hosts and not expired), opens the guest's console through
the host's driver and relays bytes both ways: binary frames (or base64 text
frames for clients that ask for the ``base64`` subprotocol, as websockify
offers), the guest's output as it comes, the client's input as typed.

A refused connection gets a plain HTTP answer before any upgrade: 401 for a
missing, unknown or expired token, 404 when the guest is not (or no longer) on a
host this proxy serves, 409 when it is not running.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
from collections.abc import Awaitable, Callable

from aiohttp import WSCloseCode, WSMsgType, web

from cairn.agents.compute.driver import (
    ConsoleChannel,
    GuestNotFound,
    HypervisorError,
    InvalidGuestState,
)
from cairn.compute.consoles import find_token
from cairn.config import Listen
from cairn.logs import get_logger
from cairn.store.port import EventStore

log = get_logger(__name__)

#: ``(host, server id) -> the guest's console``; raises GuestNotFound when that
#: host is not one of the proxy's or has no such guest.
ConsoleOpener = Callable[[str, str], Awaitable[ConsoleChannel]]


class SerialProxy:
    """One listener serving the consoles of the hosts ``open_console`` reaches."""

    def __init__(self, store: EventStore, open_console: ConsoleOpener) -> None:
        self._store = store
        self._open = open_console
        self._runner: web.AppRunner | None = None
        self._sockets: set[web.WebSocketResponse] = set()
        self.url = ""

    async def start(self, listen: Listen, public_url: str = "") -> str:
        """Listen at ``listen`` (port 0: any free one); returns the URL clients use
        (``public_url`` when given, as Nova's ``base_url``, else the address bound)."""
        app = web.Application()
        app.router.add_get("/", self._connect)
        runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await runner.setup()
        site = web.TCPSite(runner, listen.host, listen.port)
        try:
            await site.start()
        except OSError as e:
            await runner.cleanup()
            raise OSError(f"the serial console proxy cannot listen at {listen}: {e}") from e
        self._runner = runner
        port = runner.addresses[0][1]
        host = f"[{listen.host}]" if ":" in listen.host else listen.host
        self.url = public_url or f"ws://{host}:{port}/"
        log.info("compute.serial_proxy_listening", url=self.url)
        return self.url

    async def stop(self) -> None:
        for ws in list(self._sockets):
            await ws.close(code=WSCloseCode.GOING_AWAY, message=b"the proxy is stopping")
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def _connect(self, request: web.Request) -> web.StreamResponse:
        grant = await find_token(self._store, request.query.get("token", ""))
        if grant is None:
            raise web.HTTPUnauthorized(text="The console token is invalid or has expired.")
        try:
            channel = await self._open(grant.host, grant.server_id)
        except GuestNotFound:
            raise web.HTTPNotFound(
                text=f"Instance {grant.server_id} is not on host {grant.host} any more."
            ) from None
        except InvalidGuestState:
            raise web.HTTPConflict(text="Guest does not have a console available.") from None
        except HypervisorError as e:
            raise web.HTTPServiceUnavailable(text=f"The console cannot be opened: {e}") from None
        ws = web.WebSocketResponse(protocols=("binary", "base64"), heartbeat=30.0)
        try:
            await ws.prepare(request)
        except BaseException:
            await channel.close()
            raise
        log.info("compute.serial_console_opened", server_id=grant.server_id, host=grant.host)
        self._sockets.add(ws)
        try:
            await _relay(ws, channel, text=ws.ws_protocol == "base64")
        finally:
            self._sockets.discard(ws)
            await channel.close()
            await ws.close()
            log.info("compute.serial_console_closed", server_id=grant.server_id)
        return ws


async def _relay(ws: web.WebSocketResponse, channel: ConsoleChannel, *, text: bool) -> None:
    """Bytes both ways until either side ends."""

    async def to_client() -> None:
        while data := await channel.read():
            if text:
                await ws.send_str(base64.b64encode(data).decode())
            else:
                await ws.send_bytes(data)

    async def to_guest() -> None:
        async for message in ws:
            if message.type is WSMsgType.BINARY:
                await channel.write(message.data)
            elif message.type is WSMsgType.TEXT:
                data = message.data
                with contextlib.suppress(ValueError):
                    await channel.write(base64.b64decode(data) if text else data.encode())
            else:
                return

    tasks = [asyncio.create_task(to_client()), asyncio.create_task(to_guest())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
