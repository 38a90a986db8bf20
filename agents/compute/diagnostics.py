"""Server diagnostics, answered by the agent that owns the guest (as console output
is, docs/adr/0022): a ``ServerDiagnosticsRequested`` on
``serverdiagnostics-<server id>`` names the host; its agent reads the guest's
counters through the driver and appends ``ServerDiagnosticsCaptured`` with the
request's id, which the API waits for."""

from __future__ import annotations

import asyncio

import msgspec

from cairn.agents.compute.context import HostContext
from cairn.agents.compute.driver import GuestNotFound, HypervisorError
from cairn.agents.compute.guest_plan import guest_name
from cairn.events import ANY_VERSION, Metadata, RecordedEvent, registry
from cairn.events import compute as ev
from cairn.logs import get_logger
from cairn.store.port import StreamWrite

log = get_logger(__name__)

REQUEST = "ServerDiagnosticsRequested"
_decode = msgspec.json.Decoder(ev.ServerDiagnosticsRequested).decode


class DiagnosticsAnswers:
    """Answers one host's diagnostics requests, each in a task of its own."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def wanted(self, event: RecordedEvent, host: str) -> bool:
        return event.type == REQUEST and _decode(event.data).host == host

    def start(self, ctx: HostContext, event: RecordedEvent) -> None:
        task = asyncio.create_task(self._answer(ctx, event), name=f"diagnostics-{event.id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _answer(self, ctx: HostContext, event: RecordedEvent) -> None:
        request = _decode(event.data)
        stats: ev.GuestStats | None = None
        error: str | None = None
        try:
            stats = await ctx.driver.stats(guest_name(ctx.host, request.server_id))
        except GuestNotFound:
            error = "gone"
        except HypervisorError as exc:
            error = f"hypervisor: {exc}"
        captured = ev.ServerDiagnosticsCaptured(
            server_id=request.server_id, request_id=request.request_id, stats=stats, error=error
        )
        meta = Metadata(causation_id=str(event.id), correlation_id=request.request_id)
        stream = ev.diagnostics_stream(request.server_id)
        try:
            await ctx.store.append(StreamWrite(stream, [registry.new(captured, meta)], ANY_VERSION))
        except Exception as exc:
            log.warning("compute.diagnostics_answer_failed", server_id=request.server_id, error=exc)
