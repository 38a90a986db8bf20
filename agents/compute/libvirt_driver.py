"""The hypervisor port on libvirt: ``qemu:///system`` (real TCG guests) and
libvirt's own ``test:///default`` (in-process, no daemon, nothing really runs).

Every libvirt call is blocking, so each method runs its calls in one worker thread
(:meth:`LibvirtDriver._call`), which is awaited to its end even when the caller is
cancelled. Lifecycle events come through libvirt's event loop on asyncio
(:mod:`cairn.agents.compute.libvirt_events`), bound before the connection opens.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import libvirt

from cairn.agents.compute import disk, domain_xml, guest_stats, libvirt_events
from cairn.agents.compute.driver import (
    Capability,
    ConsoleChannel,
    DriverClosed,
    EventSubscription,
    GuestDefinition,
    GuestExists,
    GuestInfo,
    GuestNotFound,
    GuestState,
    HostInfo,
    HypervisorDriver,
    HypervisorError,
    HypervisorUnavailable,
    InvalidGuestState,
    LifecycleEvent,
    Nic,
    RootDisk,
    VolumeDisk,
)
from cairn.agents.compute.libvirt_console import LibvirtConsole
from cairn.agents.compute.libvirt_lifecycle import Subscription, lifecycle_event
from cairn.events.compute import GuestStats

T = TypeVar("T")

_CAPABILITIES = {
    "QEMU": frozenset(
        {
            Capability.GUEST_EXECUTION,
            Capability.CONSOLE,
            Capability.SERIAL_CONSOLE,
            Capability.SET_PASSWORD,
            Capability.SUSPEND,
            Capability.HOT_PLUG,
        }
    ),
    # The test driver keeps guests as records: no console, hot-plug or migration.
    "TEST": frozenset({Capability.SUSPEND}),
}

_STATES = {
    libvirt.VIR_DOMAIN_NOSTATE: GuestState.UNKNOWN,
    libvirt.VIR_DOMAIN_RUNNING: GuestState.RUNNING,
    libvirt.VIR_DOMAIN_BLOCKED: GuestState.RUNNING,
    libvirt.VIR_DOMAIN_PAUSED: GuestState.PAUSED,
    libvirt.VIR_DOMAIN_SHUTDOWN: GuestState.SHUTDOWN,
    libvirt.VIR_DOMAIN_SHUTOFF: GuestState.SHUTOFF,
    libvirt.VIR_DOMAIN_CRASHED: GuestState.CRASHED,
    libvirt.VIR_DOMAIN_PMSUSPENDED: GuestState.SUSPENDED,
}


# libvirt error codes that mean "the connection is gone", not "the request failed".
_CONNECTION_ERRORS = {
    libvirt.VIR_ERR_NO_CONNECT,
    libvirt.VIR_ERR_INVALID_CONN,
    libvirt.VIR_ERR_SYSTEM_ERROR,
    libvirt.VIR_ERR_RPC,
    libvirt.VIR_ERR_AUTH_FAILED,
}
_CONNECTION_DOMAINS = {libvirt.VIR_FROM_RPC, libvirt.VIR_FROM_REMOTE}


def _translate(e: libvirt.libvirtError, name: str | None) -> HypervisorError:
    code = e.get_error_code()
    if code == libvirt.VIR_ERR_NO_DOMAIN and name is not None:
        return GuestNotFound(name)
    if code in _CONNECTION_ERRORS or e.get_error_domain() in _CONNECTION_DOMAINS:
        return HypervisorUnavailable(f"libvirt: {e}")
    return HypervisorError(f"libvirt: {e}")


def _state_of(dom: libvirt.virDomain) -> GuestState:
    state, _reason = dom.state()
    result = _STATES.get(state, GuestState.UNKNOWN)
    if result is GuestState.SHUTOFF and dom.hasManagedSaveImage(0):
        return GuestState.SUSPENDED
    return result


def _info_of(dom: libvirt.virDomain) -> GuestInfo:
    _state, max_kib, _mem, vcpus, _cpu_time = dom.info()
    return GuestInfo(
        name=dom.name(),
        uuid=uuidlib.UUID(dom.UUIDString()),
        state=_state_of(dom),
        vcpus=vcpus,
        memory_mib=max_kib // 1024,
        managed=domain_xml.is_managed(dom.XMLDesc(0)),
    )


@dataclass
class _SpawnProgress:
    """What a spawn has done so far, for undoing it."""

    created: list[Path] = field(default_factory=list)
    defined: bool = False


class LibvirtDriver(HypervisorDriver):
    """The port on one libvirt connection; open it with :meth:`open`.

    Once the connection breaks (the daemon died or restarted: libvirt's keepalive
    notices within ~15 s), every call raises :class:`HypervisorUnavailable` and
    subscriptions end with it: close this driver and open a new one.
    """

    def __init__(
        self,
        conn: libvirt.virConnect,
        uri: str,
        impl: libvirt_events.ThreadSafeAsyncIOImpl,
        instances_dir: Path,
    ) -> None:
        self.uri = uri
        self._conn = conn
        self._impl = impl
        self._loop = impl.loop
        self._instances_dir = instances_dir
        self._closed = False
        self._broken: str | None = None
        self._subscriptions: set[Subscription] = set()
        self._callback_id: int | None = None
        # One spawn at a time checks names and defines: defining an existing name with
        # the same uuid would silently redefine that guest.
        self._define_lock = threading.Lock()
        self.hypervisor_type = conn.getType().upper()
        self.capabilities = _CAPABILITIES.get(self.hypervisor_type, frozenset())

    @classmethod
    async def open(
        cls, uri: str = "qemu:///system", *, instances_dir: Path = Path("/var/lib/cairn/instances")
    ) -> LibvirtDriver:
        """Connect to ``uri``. Raises :class:`HypervisorUnavailable` if libvirt
        cannot be reached (for qemu:///system: run scripts/libvirtd)."""
        impl = libvirt_events.bind(asyncio.get_running_loop())
        impl.connections += 1
        conn = None
        try:
            try:
                conn = await _in_thread(libvirt.open, uri)
            except libvirt.libvirtError as e:
                raise HypervisorUnavailable(f"cannot connect to libvirt at {uri}: {e}") from e
            driver = cls(conn, uri, impl, instances_dir)
            await driver._call(driver._subscribe_sync)
        except BaseException:
            if conn is not None:
                with contextlib.suppress(libvirt.libvirtError):
                    await _in_thread(conn.close)
            impl.connections -= 1
            raise
        return driver

    # -- plumbing ----------------------------------------------------------------------

    async def _call(self, fn: Callable[..., T], *args: Any, name: str | None = None) -> T:
        """Run ``fn(*args)`` in a worker thread, translating libvirt's errors."""
        if self._closed:
            raise DriverClosed(f"the driver for {self.uri} is closed")
        if self._broken is not None:
            raise HypervisorUnavailable(self._broken)
        try:
            return await _in_thread(fn, *args)
        except libvirt.libvirtError as e:
            raise _translate(e, name) from e

    def _lookup(self, name: str) -> libvirt.virDomain:
        try:
            return self._conn.lookupByName(name)
        except libvirt.libvirtError as e:
            if e.get_error_code() == libvirt.VIR_ERR_NO_DOMAIN:
                raise GuestNotFound(name) from e
            raise

    def _subscribe_sync(self) -> None:
        self._callback_id = self._conn.domainEventRegisterAny(
            None, libvirt.VIR_DOMAIN_EVENT_ID_LIFECYCLE, self._on_lifecycle, None
        )
        if self.hypervisor_type != "TEST":
            # Notice a dead daemon within ~15 s, and say so to every subscriber.
            self._conn.setKeepAlive(5, 3)
            self._conn.registerCloseCallback(self._on_close, None)

    def _on_lifecycle(
        self, _conn: Any, dom: libvirt.virDomain, event: int, detail: int, _opaque: Any
    ) -> None:
        lifecycle = lifecycle_event(dom, event, detail)
        if lifecycle is not None:
            self._loop.call_soon_threadsafe(self._publish, lifecycle)

    def _on_close(self, _conn: Any, reason: int, _opaque: Any) -> None:
        self._loop.call_soon_threadsafe(
            self._broke, f"the connection to {self.uri} broke ({reason})"
        )

    def _publish(self, event: LifecycleEvent) -> None:
        for subscription in self._subscriptions:
            subscription.put(event)

    def _broke(self, message: str) -> None:
        if self._closed:
            return
        self._broken = message
        for subscription in list(self._subscriptions):
            subscription.end(HypervisorUnavailable(message))

    # -- host --------------------------------------------------------------------------

    async def host_info(self) -> HostInfo:
        def sync() -> HostInfo:
            _model, memory_mib, cpus, *_ = self._conn.getInfo()
            free = self._conn.getFreeMemory()
            where = self._instances_dir
            while not where.exists() and where != where.parent:
                where = where.parent
            usage = shutil.disk_usage(where)
            return HostInfo(
                hostname=self._conn.getHostname() or socket.gethostname(),
                hypervisor_type=self.hypervisor_type,
                hypervisor_version=self._conn.getVersion(),
                vcpus=cpus,
                memory_mib=memory_mib,
                memory_free_mib=free // (1024 * 1024),
                disk_total_gb=usage.total // 1024**3,
                disk_free_gb=usage.free // 1024**3,
            )

        return await self._call(sync)

    async def list_guests(self) -> list[GuestInfo]:
        def sync() -> list[GuestInfo]:
            guests = []
            for dom in self._conn.listAllDomains(0):
                try:
                    guests.append(_info_of(dom))
                except libvirt.libvirtError as e:  # undefined while we looked
                    if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                        raise
            return guests

        return await self._call(sync)

    async def info(self, name: str) -> GuestInfo:
        return await self._call(lambda: _info_of(self._lookup(name)), name=name)

    async def state(self, name: str) -> GuestState:
        return await self._call(lambda: _state_of(self._lookup(name)), name=name)

    # -- spawn and destroy -------------------------------------------------------------

    async def spawn(self, definition: GuestDefinition) -> GuestInfo:
        d = definition
        progress = _SpawnProgress()
        overlay = d.root_disk if d.root_disk is not None and d.root_disk.backing else None
        # Usually the overlay is written in the same worker thread as the define
        # and start (one hand-off per spawn); other backing formats need qemu-img.
        in_thread = overlay is not None and (
            overlay.backing_format in disk.IN_PROCESS_BACKING_FORMATS
        )
        try:
            if overlay is not None and not in_thread:
                await self._call(self._check_free, d)
                await _create_overlay(overlay)
                progress.created.append(overlay.path)
            owned = [] if overlay is None else [overlay.path]
            xml = domain_xml.render(d, owned=[*owned, d.console_log])
            return await self._call(
                self._define_and_start, d, xml, progress, in_thread, name=d.name
            )
        except BaseException:
            # In a thread that is awaited to its end even if cancelled again. If the
            # undo itself fails, the spawn's own error is the one worth raising.
            with contextlib.suppress(Exception):
                await _in_thread(self._undo_spawn, d, progress)
            raise

    def _check_free(self, d: GuestDefinition) -> None:
        for lookup, key in (
            (self._conn.lookupByName, d.name),
            (self._conn.lookupByUUIDString, str(d.uuid)),
        ):
            try:
                other = lookup(key)
            except libvirt.libvirtError as e:
                if e.get_error_code() != libvirt.VIR_ERR_NO_DOMAIN:
                    raise
            else:
                raise GuestExists(d.name, f"{key} is guest {other.name()!r} ({other.UUIDString()})")

    def _define_and_start(
        self, d: GuestDefinition, xml: str, progress: _SpawnProgress, write_overlay: bool
    ) -> GuestInfo:
        with self._define_lock:
            self._check_free(d)
            if write_overlay:
                # After the check: never a disk for a name another guest holds.
                assert d.root_disk is not None
                _write_overlay(d.root_disk)
                progress.created.append(d.root_disk.path)
            try:
                dom = self._conn.defineXML(xml)
            except libvirt.libvirtError as e:
                # Another process defined the name since the check.
                if e.get_error_code() == libvirt.VIR_ERR_OPERATION_FAILED and (
                    "already exists" in str(e)
                ):
                    raise GuestExists(d.name, str(e)) from e
                raise
            progress.defined = True
        dom.create()
        return _info_of(dom)

    def _undo_spawn(self, d: GuestDefinition, progress: _SpawnProgress) -> None:
        if progress.defined:
            with contextlib.suppress(libvirt.libvirtError):
                dom = self._conn.lookupByUUIDString(str(d.uuid))
                with contextlib.suppress(libvirt.libvirtError):
                    dom.destroy()
                dom.undefineFlags(_UNDEFINE_FLAGS)
            progress.created.append(d.console_log)
        for path in progress.created:
            path.unlink(missing_ok=True)

    async def destroy(self, name: str) -> None:
        await self._call(self._destroy, name, name=name)

    def _destroy(self, name: str) -> None:
        try:
            dom = self._lookup(name)
            owned = domain_xml.owned_files(dom.XMLDesc(0))
            if dom.isActive():
                _ignoring_gone(dom.destroy)
            _ignoring_gone(lambda: dom.undefineFlags(_UNDEFINE_FLAGS))
        except GuestNotFound:
            return
        for path in owned:
            path.unlink(missing_ok=True)

    async def forget(self, name: str) -> None:
        def sync() -> None:
            try:
                dom = self._lookup(name)
            except GuestNotFound:
                return
            if dom.isActive():
                _ignoring_gone(dom.destroy)
            _ignoring_gone(lambda: dom.undefineFlags(_UNDEFINE_FLAGS))

        await self._call(sync, name=name)

    # -- power ---------------------------------------------------------------------------

    async def power_off(self, name: str, *, timeout: float = 60.0) -> bool:
        state = await self.state(name)
        if state in (GuestState.SHUTOFF, GuestState.SUSPENDED):
            return True
        if state in (GuestState.PAUSED, GuestState.CRASHED):
            await self._call(self._hard_off, name, name=name)
            return False
        await self._call(lambda: self._lookup(name).shutdown(), name=name)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if await self.state(name) is GuestState.SHUTOFF:
                return True
            await asyncio.sleep(0.2)
        await self._call(self._hard_off, name, name=name)
        return False

    def _hard_off(self, name: str) -> None:
        dom = self._lookup(name)
        if dom.isActive():
            _ignoring_gone(dom.destroy)

    async def power_on(self, name: str) -> None:
        def sync() -> None:
            dom = self._lookup(name)
            state = _state_of(dom)
            if state in (GuestState.SHUTOFF, GuestState.SUSPENDED):
                dom.create()
            elif state is not GuestState.RUNNING:
                raise InvalidGuestState(name, state, "power on")

        await self._call(sync, name=name)

    async def reboot(self, name: str, *, hard: bool = False) -> None:
        def sync() -> None:
            dom = self._lookup(name)
            state = _state_of(dom)
            if state is not GuestState.RUNNING:
                raise InvalidGuestState(name, state, "reboot")
            if hard:
                dom.reset(0)
            else:
                dom.reboot(libvirt.VIR_DOMAIN_REBOOT_ACPI_POWER_BTN)

        await self._call(sync, name=name)

    async def pause(self, name: str) -> None:
        await self._transition(
            name, "pause", {GuestState.RUNNING}, {GuestState.PAUSED}, lambda dom: dom.suspend()
        )

    async def unpause(self, name: str) -> None:
        await self._transition(
            name, "unpause", {GuestState.PAUSED}, {GuestState.RUNNING}, lambda dom: dom.resume()
        )

    async def suspend(self, name: str) -> None:
        self.require(Capability.SUSPEND)
        await self._transition(
            name,
            "suspend",
            {GuestState.RUNNING, GuestState.PAUSED},
            set(),
            lambda dom: dom.managedSave(libvirt.VIR_DOMAIN_SAVE_RUNNING),
        )

    async def resume(self, name: str) -> None:
        self.require(Capability.SUSPEND)
        await self._transition(
            name, "resume", {GuestState.SUSPENDED}, set(), lambda dom: dom.create()
        )

    async def _transition(
        self,
        name: str,
        operation: str,
        from_states: set[GuestState],
        done_states: set[GuestState],
        action: Callable[[libvirt.virDomain], object],
    ) -> None:
        def sync() -> None:
            dom = self._lookup(name)
            state = _state_of(dom)
            if state in done_states:
                return
            if state not in from_states:
                raise InvalidGuestState(name, state, operation)
            action(dom)

        await self._call(sync, name=name)

    # -- hot-plug ------------------------------------------------------------------------------

    async def attach_nic(self, name: str, nic: Nic) -> None:
        self.require(Capability.HOT_PLUG)

        def sync() -> None:
            dom = self._lookup(name)
            if nic.mac.lower() in domain_xml.interfaces(dom.XMLDesc(0)):
                return
            flags = libvirt.VIR_DOMAIN_AFFECT_CONFIG
            if dom.isActive():
                flags |= libvirt.VIR_DOMAIN_AFFECT_LIVE
            dom.attachDeviceFlags(domain_xml.interface_xml(nic), flags)

        await self._call(sync, name=name)

    async def detach_nic(self, name: str, mac: str, *, timeout: float = 30.0) -> bool:
        self.require(Capability.HOT_PLUG)
        mac = mac.lower()

        def sync() -> bool:
            dom = self._lookup(name)
            live = domain_xml.interfaces(dom.XMLDesc(0)).get(mac)
            stored = domain_xml.interfaces(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)).get(mac)
            if stored is not None:
                dom.detachDeviceFlags(stored[1], libvirt.VIR_DOMAIN_AFFECT_CONFIG)
            if live is not None and dom.isActive():
                # Asynchronous: the guest is asked to let go (ACPI PCI unplug).
                dom.detachDeviceFlags(live[1], libvirt.VIR_DOMAIN_AFFECT_LIVE)
            return live is not None or stored is not None

        found = await self._call(sync, name=name)
        deadline = time.monotonic() + timeout
        while mac in domain_xml.interfaces(await self._call(self._live_xml, name, name=name)):
            if time.monotonic() > deadline:
                raise HypervisorError(
                    f"guest {name} did not let go of its NIC {mac} within {timeout:g} s"
                )
            await asyncio.sleep(0.1)
        return found

    async def attach_disk(self, name: str, disk: VolumeDisk) -> None:
        hot_plug = Capability.HOT_PLUG in self.capabilities

        def sync() -> None:
            dom = self._lookup(name)
            stored = domain_xml.disks(dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE))
            live = domain_xml.disks(dom.XMLDesc(0)) if dom.isActive() else {}
            device = domain_xml.disk_xml(disk)
            if not hot_plug:
                # libvirt's test driver has no device hot-plug: the definition
                # alone gets the disk (as a stopped guest's does).
                if disk.serial not in stored:
                    xml = domain_xml.with_disk(
                        dom.XMLDesc(
                            libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE
                        ),
                        disk,
                    )
                    self._conn.defineXML(xml)
                return
            if disk.serial not in stored:
                dom.attachDeviceFlags(device, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
            if dom.isActive() and disk.serial not in live:
                dom.attachDeviceFlags(device, libvirt.VIR_DOMAIN_AFFECT_LIVE)

        await self._call(sync, name=name)

    async def detach_disk(self, name: str, serial: str, *, timeout: float = 30.0) -> bool:
        hot_plug = Capability.HOT_PLUG in self.capabilities

        def sync() -> bool:
            dom = self._lookup(name)
            inactive = dom.XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE | libvirt.VIR_DOMAIN_XML_SECURE)
            stored = domain_xml.disks(inactive).get(serial)
            live = domain_xml.disks(dom.XMLDesc(0)).get(serial) if dom.isActive() else None
            if not hot_plug:
                if stored is not None:
                    self._conn.defineXML(domain_xml.with_disk(inactive, None, without=serial))
                return stored is not None
            if stored is not None:
                dom.detachDeviceFlags(stored, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
            if live is not None:
                # Asynchronous: the guest is asked to let go (ACPI PCI unplug).
                dom.detachDeviceFlags(live, libvirt.VIR_DOMAIN_AFFECT_LIVE)
            return live is not None or stored is not None

        found = await self._call(sync, name=name)
        deadline = time.monotonic() + timeout
        while serial in domain_xml.disks(
            await self._call(self._live_xml, name, name=name) or "<domain/>"
        ):
            if time.monotonic() > deadline:
                raise HypervisorError(
                    f"guest {name} did not let go of the disk {serial} within {timeout:g} s"
                )
            await asyncio.sleep(0.1)
        return found

    async def disks(self, name: str) -> list[str]:
        xml = await self._call(
            lambda: self._lookup(name).XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE), name=name
        )
        return list(domain_xml.disks(xml))

    async def inject_nmi(self, name: str) -> None:
        def sync() -> None:
            dom = self._lookup(name)
            state = _state_of(dom)
            if state is not GuestState.RUNNING:
                raise InvalidGuestState(name, state, "inject an NMI")
            dom.injectNMI(0)

        await self._call(sync, name=name)

    def _live_xml(self, name: str) -> str:
        dom = self._lookup(name)
        return str(dom.XMLDesc(0)) if dom.isActive() else ""

    async def nics(self, name: str) -> list[Nic]:
        xml = await self._call(lambda: self._lookup(name).XMLDesc(0), name=name)
        return [nic for nic, _ in domain_xml.interfaces(xml).values()]

    # -- console and events ----------------------------------------------------------------

    async def console_output(self, name: str, *, max_bytes: int = 1 << 20) -> str:
        self.require(Capability.CONSOLE)

        def sync() -> str:
            path = domain_xml.console_log(self._lookup(name).XMLDesc(0))
            if path is None:
                return ""
            try:
                with path.open("rb") as f:
                    f.seek(max(0, os.fstat(f.fileno()).st_size - max_bytes))
                    return f.read().decode(errors="replace")
            except FileNotFoundError:
                return ""

        return await self._call(sync, name=name)

    async def set_password(self, name: str, user: str, password: str) -> None:
        self.require(Capability.SET_PASSWORD)

        def sync() -> None:
            dom = self._lookup(name)
            state = _state_of(dom)
            if state is not GuestState.RUNNING:
                raise InvalidGuestState(name, state, "set a password in")
            dom.setUserPassword(user, password, 0)

        await self._call(sync, name=name)

    async def open_console(self, name: str) -> ConsoleChannel:
        self.require(Capability.SERIAL_CONSOLE)

        def sync() -> libvirt.virStream:
            dom = self._lookup(name)
            state = _state_of(dom)
            if state is not GuestState.RUNNING:
                raise InvalidGuestState(name, state, "open the console of")
            stream = self._conn.newStream(libvirt.VIR_STREAM_NONBLOCK)
            # FORCE: a new session takes the console from an earlier one (Nova's proxy
            # lets the newest client in), which then sees its channel end.
            dom.openConsole(None, stream, libvirt.VIR_DOMAIN_CONSOLE_FORCE)
            return stream

        stream = await self._call(sync, name=name)
        return LibvirtConsole(stream, name)

    async def stats(self, name: str) -> GuestStats:
        kind = self.hypervisor_type
        return await self._call(lambda: guest_stats.collect(self._lookup(name), kind), name=name)

    def events(self) -> EventSubscription:
        if self._closed:
            raise DriverClosed(f"the driver for {self.uri} is closed")
        subscription = Subscription(self._subscriptions.discard)
        if self._broken is not None:
            subscription.end(HypervisorUnavailable(self._broken))
        else:
            self._subscriptions.add(subscription)
        return subscription

    async def close(self) -> None:
        if self._closed:
            return

        def sync() -> None:
            with contextlib.suppress(libvirt.libvirtError):
                if self._callback_id is not None:
                    self._conn.domainEventDeregisterAny(self._callback_id)
                if self.hypervisor_type != "TEST":
                    self._conn.unregisterCloseCallback()
            with contextlib.suppress(libvirt.libvirtError):
                self._conn.close()

        try:
            await _in_thread(sync)
        finally:
            self._closed = True
            self._impl.connections -= 1
            for subscription in list(self._subscriptions):
                subscription.end()
            self._subscriptions.clear()
            await libvirt_events.settle(self._impl)


async def _create_overlay(root: RootDisk) -> None:
    assert root.backing is not None
    await disk.create_overlay(
        root.path, root.backing, size_gb=root.size_gb, backing_format=root.backing_format
    )


def _write_overlay(root: RootDisk) -> None:
    assert root.backing is not None
    disk.write_overlay(
        root.path, root.backing, size_gb=root.size_gb, backing_format=root.backing_format
    )


async def _in_thread(fn: Callable[..., T], *args: Any) -> T:
    """``fn(*args)`` in a worker thread. If the caller is cancelled, the call runs on
    in its thread whatever we do, so wait for it to end, then let the cancellation
    propagate: a cancelled operation has stopped touching the hypervisor by then."""
    future = asyncio.get_running_loop().run_in_executor(None, fn, *args)
    try:
        return await asyncio.shield(future)
    except asyncio.CancelledError:
        while not future.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([future])
        if not future.cancelled():
            future.exception()  # retrieved: the cancellation is what the caller gets
        raise


_UNDEFINE_FLAGS = (
    libvirt.VIR_DOMAIN_UNDEFINE_MANAGED_SAVE | libvirt.VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
)


def _ignoring_gone(fn: Callable[[], object]) -> None:
    """Call ``fn``; a guest that is already off or gone is what we wanted."""
    try:
        fn()
    except libvirt.libvirtError as e:
        if e.get_error_code() not in (libvirt.VIR_ERR_NO_DOMAIN, libvirt.VIR_ERR_OPERATION_INVALID):
            raise
