"""libvirt's event loop on asyncio: libvirtaio, made safe for libvirt's threads.

libvirt needs an event loop implementation registered *before* a connection is
opened, or lifecycle events and keepalives never arrive. ``libvirtaio`` (shipped
with libvirt-python) provides one on an asyncio loop, but it assumes libvirt
calls it from the loop's thread. Cairn runs every blocking libvirt call in a
worker thread, and libvirt calls back into the event implementation from
whichever thread it is in (every RPC toggles the socket's watch; queueing an
event arms a timer). From a foreign thread, libvirtaio would touch the loop
unsafely (``add_reader``, ``ensure_future``) and without waking it, so events
could sit unseen until something else woke the loop.

:class:`ThreadSafeAsyncIOImpl` keeps libvirtaio's code and only changes where it
runs: a call from a foreign thread allocates its watch or timer id at once (libvirt
needs it returned) and hands the rest to the loop with ``call_soon_threadsafe``,
never blocking the caller (it may hold a libvirt lock the loop thread is about to
take). Calls made on the loop thread run directly unless earlier foreign calls are
still queued, in which case they queue behind them, so every change reaches the
loop in the order libvirt made it.

libvirt accepts one event implementation per process, once. :func:`bind` registers
ours for the running loop, and moves it to another loop (pytest gives each test its
own) once every connection opened on the old one is closed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import libvirt
import libvirtaio

from cairn.agents.compute.driver import HypervisorError


class ThreadSafeAsyncIOImpl(libvirtaio.virEventAsyncIOImpl):  # type: ignore[misc]
    """libvirtaio's implementation; callable from any thread (see the module)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop=loop)
        self._loop_thread = threading.get_ident()
        self._queued = 0  # foreign calls handed to the loop and not yet applied
        self._queued_lock = threading.Lock()
        #: Connections opened on this implementation and not yet closed.
        self.connections = 0

    def _direct(self) -> bool:
        return threading.get_ident() == self._loop_thread and self._queued == 0

    def _defer(self, fn: Callable[..., Any], *args: Any) -> None:
        with self._queued_lock:
            self._queued += 1

        def apply() -> None:
            try:
                fn(*args)
            finally:
                with self._queued_lock:
                    self._queued -= 1

        try:
            self.loop.call_soon_threadsafe(apply)
        except RuntimeError:  # the loop closed meanwhile; rebind() picks up what is left
            with self._queued_lock:
                self._queued -= 1

    # Handles (file descriptors) --------------------------------------------------------

    def _add_handle(self, fd: int, event: int, cb: Any, opaque: Any) -> int:
        if self.loop.is_closed():
            descriptor = libvirtaio.Descriptor(self, fd)  # attached by rebind()
            callback = libvirtaio.FDCallback(self, cb, opaque, descriptor=descriptor, event=event)
            self.callbacks[callback.iden] = callback
            self._pending += 1
            return int(callback.iden)
        if self._direct():
            return int(super()._add_handle(fd, event, cb, opaque))
        # The callback object only allocates the id; its descriptor is found on the loop.
        callback = libvirtaio.FDCallback(self, cb, opaque, descriptor=None, event=event)
        self._defer(self._apply_add_handle, fd, callback)
        return int(callback.iden)

    def _apply_add_handle(self, fd: int, callback: Any) -> None:
        callback.descriptor = self.descriptors[fd]
        self.callbacks[callback.iden] = callback
        callback.descriptor.add_handle(callback)
        self._pending_inc()

    def _update_handle(self, watch: int, event: int) -> None:
        if self.loop.is_closed():
            self.callbacks[watch].event = event
        elif self._direct():
            super()._update_handle(watch, event)
        else:
            self._defer(super()._update_handle, watch, event)

    def _remove_handle(self, watch: int) -> int:
        if self.loop.is_closed():
            return self._forget(watch)
        if self._direct():
            return int(super()._remove_handle(watch))
        self._defer(super()._remove_handle, watch)
        return 0

    # Timers ------------------------------------------------------------------------------

    def _add_timeout(self, timeout: int, cb: Any, opaque: Any) -> int:
        if self.loop.is_closed():
            callback = libvirtaio.TimeoutCallback(self, cb, opaque)
            callback.timeout = timeout  # started by rebind()
            self.callbacks[callback.iden] = callback
            self._pending += 1
            return int(callback.iden)
        if self._direct():
            return int(super()._add_timeout(timeout, cb, opaque))
        callback = libvirtaio.TimeoutCallback(self, cb, opaque)
        self._defer(self._apply_add_timeout, timeout, callback)
        return int(callback.iden)

    def _apply_add_timeout(self, timeout: int, callback: Any) -> None:
        self.callbacks[callback.iden] = callback
        callback.update(timeout=timeout)
        self._pending_inc()

    def _update_timeout(self, timer: int, timeout: int) -> None:
        if self.loop.is_closed():
            self.callbacks[timer].timeout = timeout
        elif self._direct():
            super()._update_timeout(timer, timeout)
        else:
            self._defer(super()._update_timeout, timer, timeout)

    def _remove_timeout(self, timer: int) -> int:
        if self.loop.is_closed():
            return self._forget(timer)
        if self._direct():
            return int(super()._remove_timeout(timer))
        self._defer(super()._remove_timeout, timer)
        return 0

    # Between loops -----------------------------------------------------------------------

    def _forget(self, iden: int) -> int:
        """Remove a watch or timer while no loop runs (libvirt lets go of some
        after their connection closed, or at exit). Its free callback must not run
        inside this call and there is no loop to defer it to: leak the opaque."""
        if self.callbacks.pop(iden, None) is None:
            return -1
        self._pending -= 1
        return 0

    def rebind(self, loop: asyncio.AbstractEventLoop) -> None:
        """Move to ``loop`` (on its thread), taking along the watches and timers
        libvirt still holds: libvirt accepts only one registration per process."""
        leftovers = list(self.callbacks.values())
        self.loop = loop
        self._loop_thread = threading.get_ident()
        self._queued = 0
        self.descriptors = libvirtaio.DescriptorDict(self)
        self._finished = None
        # Free callbacks still queued on the old loop are lost with it (a small leak).
        self._pending = len(leftovers)
        for callback in leftovers:
            if isinstance(callback, libvirtaio.FDCallback):
                callback.descriptor = self.descriptors[callback.descriptor.fd]
                callback.descriptor.add_handle(callback)
            elif isinstance(callback, libvirtaio.TimeoutCallback):
                callback._task = None
                callback.update(timeout=callback.timeout)


_lock = threading.Lock()


def bind(loop: asyncio.AbstractEventLoop) -> ThreadSafeAsyncIOImpl:
    """The event implementation, bound to ``loop``; call it on the loop, before
    opening a connection. The first call registers it with libvirt (once per
    process: libvirt refuses a second registration); a call from another loop
    moves it there (pytest gives each test its own loop). Raises
    :class:`HypervisorError` when connections opened on another loop are still
    open, or when something else registered libvirt's event loop first."""
    with _lock:
        current = libvirtaio.getCurrentImpl()
        if current is None:
            impl = ThreadSafeAsyncIOImpl(loop)
            try:
                impl.register()
            except RuntimeError as e:
                raise HypervisorError(
                    "another libvirt event loop implementation is registered in this process"
                ) from e
            # libvirtaio.getCurrentImpl() should answer with what is registered.
            libvirtaio._current_impl = impl
            return impl
        if not isinstance(current, ThreadSafeAsyncIOImpl):
            raise HypervisorError(
                "libvirtaio's own implementation is registered; Cairn needs its thread-safe one"
            )
        if current.loop is not loop:
            if current.connections > 0:
                raise HypervisorError(
                    "libvirt's event loop is bound to another asyncio loop that still has "
                    f"{current.connections} open connection(s); close them first"
                )
            current.rebind(loop)
        return current


async def settle(impl: ThreadSafeAsyncIOImpl, timeout: float = 1.0) -> None:
    """After closing a connection: let libvirt's deferred removals and free
    callbacks run on the loop (bounded: libvirt may keep some a little longer)."""
    await asyncio.sleep(0)
    for _ in range(int(timeout / 0.01)):
        if impl.connections > 0 or impl.is_idle():
            return
        await asyncio.sleep(0.01)


def _ignore_error(_ctx: object, _error: object) -> None:
    """libvirt prints every error to stderr unless a handler is set; we raise them."""


libvirt.registerErrorHandler(_ignore_error, None)
