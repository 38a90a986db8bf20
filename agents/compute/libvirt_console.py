"""A guest's serial console over a libvirt stream, on the asyncio loop.

``virDomainOpenConsole`` connects a stream to the guest's console pty (the
domain's serial is a pty whose output libvirt also logs to the console-output
file, so both keep working). The stream is non-blocking and watched through
libvirt's event implementation (:mod:`cairn.agents.compute.libvirt_events`), whose
callbacks run on the loop: each one drains what has arrived into a queue, so
:meth:`LibvirtConsole.read` never calls libvirt from a worker thread and never
blocks the loop. Input is sent the same way; a full stream (``-2``, libvirt's
"would block") waits for the stream to become writable again.
"""

from __future__ import annotations

import asyncio
import contextlib

import libvirt

from cairn.agents.compute.driver import ConsoleChannel
from cairn.logs import get_logger

log = get_logger(__name__)

_WOULD_BLOCK = -2
_CHUNK = 64 * 1024
_END = libvirt.VIR_STREAM_EVENT_ERROR | libvirt.VIR_STREAM_EVENT_HANGUP
_WATCHED = libvirt.VIR_STREAM_EVENT_READABLE | _END


class LibvirtConsole(ConsoleChannel):
    """One open console; made by :meth:`LibvirtDriver.open_console` on the loop."""

    def __init__(self, stream: libvirt.virStream, name: str) -> None:
        self._stream = stream
        self._name = name
        self._chunks: asyncio.Queue[bytes] = asyncio.Queue()
        self._writable = asyncio.Event()
        self._ended = False
        self._closed = False
        stream.eventAddCallback(_WATCHED, self._on_event, None)

    def _on_event(self, stream: libvirt.virStream, events: int, _opaque: object) -> None:
        if events & libvirt.VIR_STREAM_EVENT_WRITABLE:
            self._writable.set()
            self._watch(_WATCHED)
        if events & libvirt.VIR_STREAM_EVENT_READABLE:
            self._drain()
        if events & _END:
            self._end()

    def _drain(self) -> None:
        while not self._ended:
            try:
                data = self._stream.recv(_CHUNK)
            except libvirt.libvirtError as e:
                log.info("compute.console_ended", guest=self._name, reason=str(e))
                self._end()
                return
            if data == _WOULD_BLOCK:
                return
            if not data:
                self._end()
                return
            self._chunks.put_nowait(data)

    def _watch(self, events: int) -> None:
        if not self._ended:
            with contextlib.suppress(libvirt.libvirtError):
                self._stream.eventUpdateCallback(events)

    def _end(self) -> None:
        if not self._ended:
            self._ended = True
            self._writable.set()
            self._chunks.put_nowait(b"")

    async def read(self) -> bytes:
        if self._ended and self._chunks.empty():
            return b""
        return await self._chunks.get()

    async def write(self, data: bytes) -> None:
        while data and not self._ended:
            try:
                sent = self._stream.send(data)
            except libvirt.libvirtError as e:
                log.info("compute.console_ended", guest=self._name, reason=str(e))
                self._end()
                return
            if sent == _WOULD_BLOCK:
                self._writable.clear()
                self._watch(_WATCHED | libvirt.VIR_STREAM_EVENT_WRITABLE)
                await self._writable.wait()
                continue
            data = data[sent:]

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        ended, self._ended = self._ended, True
        with contextlib.suppress(libvirt.libvirtError):
            self._stream.eventRemoveCallback()
        with contextlib.suppress(libvirt.libvirtError):
            # a stream the other end hung up on is finished; one still open is aborted
            if ended:
                self._stream.finish()
            else:
                self._stream.abort()
        self._chunks.put_nowait(b"")
