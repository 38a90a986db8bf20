"""Console output, answered by the agent that owns the guest.

The API never reads a guest's files: the guest may run on another host. A
``ServerConsoleOutputRequested`` event (on ``serverconsole-<server id>``, kept
apart from the server's own stream so that it never conflicts with the
agent's decisions there) names the host; that host's agent reads the serial
console through its driver and appends ``ServerConsoleOutputCaptured`` with
the request's id, which the API waits for (docs/adr/0022).

The answer is the tail (at most :data:`MAX_CONSOLE_BYTES`, Nova's cap; the
last ``length`` lines when asked). An answer identical to this agent's last one
for the server is sent as ``same_as`` (the stream version holding it), so a
client polling a quiet console adds a few bytes per call to the log.
"""

from __future__ import annotations

import asyncio
import hashlib

import msgspec

from cairn.agents.compute.context import HostContext
from cairn.agents.compute.driver import GuestNotFound, HypervisorError, UnsupportedOperation
from cairn.agents.compute.guest_plan import guest_name
from cairn.events import ANY_VERSION, Metadata, RecordedEvent, registry
from cairn.events import compute as ev
from cairn.logs import get_logger
from cairn.store.port import StreamWrite

log = get_logger(__name__)

#: Nova's cap on console output (its libvirt driver's MAX_CONSOLE_BYTES).
MAX_CONSOLE_BYTES = 100 * 1024
REQUEST = "ServerConsoleOutputRequested"
_decode = msgspec.json.Decoder(ev.ServerConsoleOutputRequested).decode


def tail(text: str, length: int | None) -> str:
    if length is None:
        return text
    kept = text.splitlines(keepends=True)
    return "".join(kept[-length:]) if length else ""


class ConsoleAnswers:
    """Answers one host's console requests; remembers its last answer per server."""

    def __init__(self) -> None:
        self._last: dict[str, tuple[int, bytes]] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def wanted(self, event: RecordedEvent, host: str) -> bool:
        return event.type == REQUEST and _decode(event.data).host == host

    def start(self, ctx: HostContext, event: RecordedEvent) -> None:
        task = asyncio.create_task(self._answer(ctx, event), name=f"console-{event.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _answer(self, ctx: HostContext, event: RecordedEvent) -> None:
        request = _decode(event.data)
        error: str | None = None
        text = ""
        try:
            text = await ctx.driver.console_output(
                guest_name(ctx.host, request.server_id), max_bytes=MAX_CONSOLE_BYTES
            )
        except UnsupportedOperation:
            error = "unsupported"
        except GuestNotFound:
            error = "gone"
        except HypervisorError as exc:
            error = f"hypervisor: {exc}"
        text = tail(text, request.length)
        digest = hashlib.sha256(text.encode()).digest()
        last = self._last.get(request.server_id)
        same = last[0] if error is None and last is not None and last[1] == digest else None
        captured = ev.ServerConsoleOutputCaptured(
            server_id=request.server_id,
            request_id=request.request_id,
            output="" if same is not None else text,
            same_as=same,
            error=error,
        )
        meta = Metadata(causation_id=str(event.id), correlation_id=request.request_id)
        stream = ev.console_stream(request.server_id)
        try:
            result = await ctx.store.append(
                StreamWrite(stream, [registry.new(captured, meta)], ANY_VERSION)
            )
        except Exception as exc:
            log.warning("compute.console_answer_failed", server_id=request.server_id, error=exc)
            return
        if error is None and same is None:
            self._last[request.server_id] = (result.versions[stream], digest)
