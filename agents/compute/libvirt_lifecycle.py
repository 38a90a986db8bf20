"""libvirt's lifecycle events as the port's :class:`LifecycleEvent`, and the
subscriptions :meth:`LibvirtDriver.events` hands out."""

from __future__ import annotations

import asyncio
import uuid as uuidlib
from collections.abc import AsyncIterator, Callable

import libvirt

from cairn.agents.compute.driver import EventKind, EventSubscription, LifecycleEvent


def _details(prefix: str, *names: str) -> dict[int, str]:
    return {getattr(libvirt, f"VIR_DOMAIN_EVENT_{prefix}_{n.upper()}"): n for n in names}


_EVENTS: dict[int, tuple[EventKind, dict[int, str]]] = {
    libvirt.VIR_DOMAIN_EVENT_DEFINED: (
        EventKind.DEFINED,
        _details("DEFINED", "added", "updated", "renamed", "from_snapshot"),
    ),
    libvirt.VIR_DOMAIN_EVENT_UNDEFINED: (
        EventKind.UNDEFINED,
        _details("UNDEFINED", "removed", "renamed"),
    ),
    libvirt.VIR_DOMAIN_EVENT_STARTED: (
        EventKind.STARTED,
        _details("STARTED", "booted", "migrated", "restored", "from_snapshot", "wakeup"),
    ),
    libvirt.VIR_DOMAIN_EVENT_SUSPENDED: (
        EventKind.SUSPENDED,
        _details("SUSPENDED", "paused", "migrated", "ioerror", "watchdog", "restored"),
    ),
    libvirt.VIR_DOMAIN_EVENT_RESUMED: (
        EventKind.RESUMED,
        _details("RESUMED", "unpaused", "migrated", "from_snapshot"),
    ),
    libvirt.VIR_DOMAIN_EVENT_STOPPED: (
        EventKind.STOPPED,
        _details("STOPPED", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed"),
    ),
    libvirt.VIR_DOMAIN_EVENT_SHUTDOWN: (
        EventKind.SHUTDOWN,
        _details("SHUTDOWN", "finished", "guest", "host"),
    ),
    libvirt.VIR_DOMAIN_EVENT_PMSUSPENDED: (EventKind.PMSUSPENDED, {}),
    libvirt.VIR_DOMAIN_EVENT_CRASHED: (EventKind.CRASHED, {}),
}


def lifecycle_event(dom: libvirt.virDomain, event: int, detail: int) -> LifecycleEvent | None:
    """The port's event for a libvirt lifecycle callback; None for kinds it has no name for."""
    kind, details = _EVENTS.get(event, (None, {}))
    if kind is None:
        return None
    return LifecycleEvent(
        name=dom.name(),
        uuid=uuidlib.UUID(dom.UUIDString()),
        kind=kind,
        detail=details.get(detail, "unknown"),
    )


class Subscription(EventSubscription):
    """Events wait in an unbounded queue; ``on_close`` forgets the subscription."""

    _END = object()

    def __init__(self, on_close: Callable[[Subscription], None]) -> None:
        self._on_close = on_close
        self._queue: asyncio.Queue[object] = asyncio.Queue()
        self._closed = False

    def put(self, item: object) -> None:
        if not self._closed:
            self._queue.put_nowait(item)

    def __aiter__(self) -> AsyncIterator[LifecycleEvent]:
        return self._iterate()

    async def _iterate(self) -> AsyncIterator[LifecycleEvent]:
        while not self._closed:
            item = await self._queue.get()
            if item is self._END:
                return
            if isinstance(item, BaseException):
                raise item
            assert isinstance(item, LifecycleEvent)
            yield item

    def end(self, error: BaseException | None = None) -> None:
        """End the iteration, or make it raise ``error``."""
        if not self._closed:
            self._queue.put_nowait(self._END if error is None else error)

    async def close(self) -> None:
        self._on_close(self)
        self.end()
        self._closed = True
