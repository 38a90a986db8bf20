"""The hypervisor port: what the compute agent asks of a hypervisor on one host.

A driver runs guests (virtual machines) on one host. Guests are named: the name
is unique on the host and is how every method finds a guest (the compute agent
names them after the server's id). Every method is a coroutine and never blocks
the event loop; adapters run their vendor's blocking calls in a thread.

Adapters are named ``<Tech>Driver`` (:class:`cairn.agents.compute.libvirt_driver.LibvirtDriver`
on ``qemu:///system`` and on libvirt's own ``test:///default``). They declare
what they can do in :attr:`HypervisorDriver.capabilities`; a method whose
capability is missing raises :class:`UnsupportedOperation` (tests skip on the
missing capability instead).

**Failures and cancellation.** Unless a method says otherwise: a call that raises
leaves the guest as the hypervisor left it (check with :meth:`HypervisorDriver.state`);
a cancelled call lets the hypervisor call already under way finish before the
cancellation propagates (so nothing keeps acting on a guest behind its caller's
back), and the guest is then in that call's outcome. :meth:`HypervisorDriver.spawn`
is stronger: a spawn that fails or is cancelled leaves nothing behind.

Errors (all derive from :class:`cairn.errors.CairnError`)::

    HypervisorError
    ├── HypervisorUnavailable  the hypervisor is unreachable, or the connection broke
    ├── DriverClosed           you closed the driver; nothing more is accepted
    ├── GuestNotFound          no guest of that name on this host
    ├── GuestExists            spawn: a guest with that name or uuid already exists
    ├── InvalidGuestState      the operation does not apply in the guest's current state
    ├── UnsupportedOperation   the driver lacks the capability the operation needs
    └── DiskError              (cairn.agents.compute.disk) qemu-img failed
"""

from __future__ import annotations

import abc
import enum
import uuid as uuidlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Self

from cairn.errors import CairnError
from cairn.events.compute import GuestStats

# -- errors ---------------------------------------------------------------------------


class HypervisorError(CairnError):
    """Base of hypervisor errors; on its own: the hypervisor refused or failed an
    operation for a reason none of the subclasses names (the message says which)."""


class HypervisorUnavailable(HypervisorError):
    """The hypervisor cannot be reached, or the connection to it broke; retry later."""


class DriverClosed(HypervisorError):
    """The driver was closed by its owner; it accepts no more work."""


class GuestNotFound(HypervisorError):
    """No guest of that name exists on this host."""

    def __init__(self, name: str) -> None:
        super().__init__(f"no guest named {name!r} on this host")
        self.name = name


class GuestExists(HypervisorError):
    """A guest with the same name or uuid already exists on this host."""

    def __init__(self, name: str, detail: str = "") -> None:
        super().__init__(f"a guest named {name!r} already exists{': ' + detail if detail else ''}")
        self.name = name


class InvalidGuestState(HypervisorError):
    """The guest is in a state where the operation does not apply (pausing a
    guest that is shut off, resuming one that was not suspended...)."""

    def __init__(self, name: str, state: GuestState, operation: str) -> None:
        super().__init__(f"cannot {operation} guest {name!r}: it is {state.value}")
        self.name = name
        self.state = state
        self.operation = operation


class UnsupportedOperation(HypervisorError):
    """The driver does not have the capability the operation needs."""

    def __init__(self, capability: Capability, driver: str) -> None:
        super().__init__(f"{driver} does not support {capability.value}")
        self.capability = capability


# -- what drivers declare -------------------------------------------------------------


class Capability(enum.Enum):
    """What a driver can do beyond the methods every driver has."""

    #: Guests really execute: they boot, print, and can shut themselves down.
    GUEST_EXECUTION = "guest-execution"
    #: :meth:`HypervisorDriver.console_output` returns what the guest printed.
    CONSOLE = "console"
    #: :meth:`HypervisorDriver.suspend` / :meth:`HypervisorDriver.resume` (managed save).
    SUSPEND = "suspend"
    #: Hot-plugging NICs into running guests (:meth:`HypervisorDriver.attach_nic`,
    #: :meth:`HypervisorDriver.detach_nic`); disks later.
    HOT_PLUG = "hot-plug"
    #: Live migration to another host (no port method yet).
    LIVE_MIGRATION = "live-migration"
    #: An interactive serial console (:meth:`HypervisorDriver.open_console`).
    SERIAL_CONSOLE = "serial-console"
    #: Setting a user's password through the guest's agent
    #: (:meth:`HypervisorDriver.set_password`).
    SET_PASSWORD = "set-password"


class GuestState(enum.Enum):
    """A guest's power state, as Nova names them."""

    RUNNING = "running"
    PAUSED = "paused"  #: frozen in memory by :meth:`HypervisorDriver.pause`
    SUSPENDED = "suspended"  #: saved to disk by :meth:`HypervisorDriver.suspend`
    SHUTDOWN = "shutdown"  #: shutting down: asked to, and not off yet
    SHUTOFF = "shutoff"
    CRASHED = "crashed"
    UNKNOWN = "unknown"


class EventKind(enum.Enum):
    """What a :class:`LifecycleEvent` reports (libvirt's lifecycle event types)."""

    DEFINED = "defined"
    UNDEFINED = "undefined"
    STARTED = "started"
    SUSPENDED = "suspended"  #: paused, or stopped for a save
    RESUMED = "resumed"
    STOPPED = "stopped"  #: the guest is off (detail: shutdown, destroyed, crashed, saved...)
    SHUTDOWN = "shutdown"  #: the guest finished shutting down (detail: guest or host)
    PMSUSPENDED = "pmsuspended"
    CRASHED = "crashed"


# -- values ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HostInfo:
    hostname: str
    #: The hypervisor behind the driver: "QEMU", "TEST".
    hypervisor_type: str
    #: Its version as an integer, major * 1,000,000 + minor * 1,000 + release.
    hypervisor_version: int
    vcpus: int
    memory_mib: int
    memory_free_mib: int
    #: Of the filesystem holding the driver's instances directory.
    disk_total_gb: int
    disk_free_gb: int


@dataclass(frozen=True, slots=True)
class Nic:
    """A virtio NIC plugged into a Linux bridge on the host."""

    bridge: str
    mac: str
    #: The host-side tap device's name (at most 15 characters); the hypervisor's
    #: default when None.
    tap: str | None = None


@dataclass(frozen=True, slots=True)
class VolumeDisk:
    """A volume as a guest's virtio disk: a file (the volume service's connection
    info, ``driver_volume_type: file``) whose disk serial is the volume id, so the
    guest (and the driver) can tell it from the others whatever its order."""

    path: Path
    serial: str
    #: the disk's name in the domain (``vdb``); the guest names disks in arrival order
    target: str
    format: str = "qcow2"
    readonly: bool = False


@dataclass(frozen=True, slots=True)
class RootDisk:
    """The guest's first disk (vda).

    With ``backing``, :meth:`HypervisorDriver.spawn` creates ``path`` as a qcow2
    overlay of ``backing`` (grown to ``size_gb`` if given) and
    :meth:`HypervisorDriver.destroy` removes it. Without, ``path`` must exist; it
    is used as it is and left in place by ``destroy``.
    """

    path: Path
    backing: Path | None = None
    size_gb: int | None = None
    format: str = "qcow2"
    #: The format of ``backing`` (``qcow2`` or ``raw``).
    backing_format: str = "qcow2"


@dataclass(frozen=True, slots=True)
class GuestDefinition:
    """Everything :meth:`HypervisorDriver.spawn` needs to create and start a guest.

    Boot from ``root_disk``, or directly from ``kernel`` (+ ``initramfs``, with
    ``cmdline``); with both, the kernel boots and the disk is attached as vda.
    """

    name: str
    vcpus: int
    memory_mib: int
    #: Where the guest's serial console (ttyS0) is written; :meth:`HypervisorDriver.destroy`
    #: removes it.
    console_log: Path
    uuid: uuidlib.UUID = field(default_factory=uuidlib.uuid4)
    root_disk: RootDisk | None = None
    kernel: Path | None = None
    initramfs: Path | None = None
    cmdline: str = "console=ttyS0"
    nics: tuple[Nic, ...] = ()
    #: qcow2 disks the caller owns, attached after the root disk in this order
    #: (a rescued server's own disk); destroy leaves them alone.
    data_disks: tuple[Path, ...] = ()
    #: A config drive (an ISO 9660 image the caller wrote), attached read-only as
    #: the disk after the root disk and the data disks.
    config_drive: Path | None = None
    #: Volumes, attached after the root disk and the config drive (left in place by
    #: :meth:`HypervisorDriver.destroy`: they are the volume service's files).
    volumes: tuple[VolumeDisk, ...] = ()

    def __post_init__(self) -> None:
        if self.root_disk is None and self.kernel is None:
            raise ValueError(f"guest {self.name!r} needs a root disk or a kernel to boot")
        if self.vcpus < 1 or self.memory_mib < 1:
            raise ValueError(f"guest {self.name!r} needs at least one vCPU and some memory")


@dataclass(frozen=True, slots=True)
class GuestInfo:
    name: str
    uuid: uuidlib.UUID
    state: GuestState
    vcpus: int
    memory_mib: int
    #: True when Cairn created the guest (spawn marks it); the agent's reconciler
    #: leaves other guests alone.
    managed: bool


@dataclass(frozen=True, slots=True)
class LifecycleEvent:
    name: str
    uuid: uuidlib.UUID
    kind: EventKind
    #: Why, in libvirt's words, lower case: "booted", "shutdown", "destroyed",
    #: "paused", "guest"...; "unknown" when the driver cannot say.
    detail: str


class EventSubscription(abc.ABC):
    """The lifecycle events of every guest on the host, from the moment of
    :meth:`HypervisorDriver.events` on, in the order the hypervisor sent them.

    Iterate it (``async for event in subscription``); close it with
    :meth:`close` or by leaving ``async with``. Events wait in an unbounded
    buffer until read. Iteration ends when the subscription or the driver is
    closed; it raises :class:`HypervisorUnavailable` if the connection broke
    (events may have been lost: reconcile with :meth:`HypervisorDriver.list_guests`).
    """

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[LifecycleEvent]: ...

    @abc.abstractmethod
    async def close(self) -> None:
        """Stop receiving events; buffered ones are dropped. Idempotent."""

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class ConsoleChannel(abc.ABC):
    """An open serial console (:meth:`HypervisorDriver.open_console`)."""

    @abc.abstractmethod
    async def read(self) -> bytes:
        """The next bytes the guest printed, waiting for some; ``b""`` once the
        console has ended (the guest stopped, or another channel took it)."""

    @abc.abstractmethod
    async def write(self, data: bytes) -> None:
        """Send ``data`` to the guest as typed input."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Let the console go. Idempotent."""


# -- the port -------------------------------------------------------------------------


class HypervisorDriver(abc.ABC):
    """The port. Every method raises :class:`DriverClosed` after :meth:`close` and
    :class:`HypervisorUnavailable` when the hypervisor cannot be reached; methods
    that take a guest's name raise :class:`GuestNotFound` when there is none."""

    #: What this driver can do beyond the methods every driver has.
    capabilities: frozenset[Capability]

    @abc.abstractmethod
    async def host_info(self) -> HostInfo:
        """The host's capacity and identity."""

    @abc.abstractmethod
    async def list_guests(self) -> list[GuestInfo]:
        """Every guest defined on the host, running or not, Cairn's or not."""

    @abc.abstractmethod
    async def info(self, name: str) -> GuestInfo:
        """One guest."""

    @abc.abstractmethod
    async def state(self, name: str) -> GuestState:
        """The guest's power state."""

    @abc.abstractmethod
    async def spawn(self, definition: GuestDefinition) -> GuestInfo:
        """Create the guest and start it; returns once it runs (booting).

        Creates the root disk overlay if asked (see :class:`RootDisk`), defines the
        guest (persistently: it survives a hypervisor restart, shut off) and starts
        it. Raises :class:`GuestExists` if a guest with that name or uuid exists
        (nothing is touched then), :class:`DiskError` if the overlay cannot be
        created, :class:`HypervisorError` if the hypervisor rejects the definition
        or cannot start it. A spawn that raises or is cancelled leaves nothing
        behind: no guest, no overlay, no console log.
        """

    @abc.abstractmethod
    async def power_off(self, name: str, *, timeout: float = 60.0) -> bool:
        """Shut the guest off: ask it through ACPI (the power button), and if it is
        not off after ``timeout`` seconds, pull the plug. Returns True if it shut
        down on its own, False if it had to be forced. A paused guest cannot
        answer ACPI and is forced at once. Does nothing (returns True) when the
        guest is already off or suspended. Cancelled while waiting: the guest has
        been asked and may still shut down.
        """

    @abc.abstractmethod
    async def power_on(self, name: str) -> None:
        """Start a shut-off guest (a suspended one resumes from its saved state).
        Does nothing when it runs. Raises :class:`InvalidGuestState` if it is
        paused (use :meth:`unpause`)."""

    @abc.abstractmethod
    async def reboot(self, name: str, *, hard: bool = False) -> None:
        """Restart a running guest. Soft: ask it through ACPI and return; the
        guest restarts when it has shut down (one that ignores ACPI does not
        restart: fall back to ``hard``). Hard: reset it at once, like the reset
        button. Raises :class:`InvalidGuestState` unless it runs."""

    @abc.abstractmethod
    async def pause(self, name: str) -> None:
        """Freeze the running guest in memory. Raises :class:`InvalidGuestState`
        unless it runs; does nothing if it is paused already."""

    @abc.abstractmethod
    async def unpause(self, name: str) -> None:
        """Let a paused guest run on. Raises :class:`InvalidGuestState` unless it
        is paused or running (then it does nothing)."""

    @abc.abstractmethod
    async def suspend(self, name: str) -> None:
        """Save the running or paused guest's memory to disk and stop it (state
        SUSPENDED); :meth:`resume` or :meth:`power_on` restores it. Needs
        :attr:`Capability.SUSPEND`. Raises :class:`InvalidGuestState` if it is
        neither running nor paused. A failed save leaves the guest running."""

    @abc.abstractmethod
    async def resume(self, name: str) -> None:
        """Restore a suspended guest to running. Needs :attr:`Capability.SUSPEND`.
        Raises :class:`InvalidGuestState` unless it is suspended."""

    @abc.abstractmethod
    async def destroy(self, name: str) -> None:
        """Remove the guest and everything :meth:`spawn` created for it: stop it
        at once if it runs, delete its definition, saved state, console log and
        the overlay spawn created. Idempotent: a missing guest is not an error,
        so a destroy that failed or was cancelled half-way can be repeated.
        Files the caller provided (a root disk without ``backing``, kernel,
        initramfs) are left alone."""

    @abc.abstractmethod
    async def forget(self, name: str) -> None:
        """Remove the guest's definition (stopping it at once if it runs) but none
        of its files: its disks stay for a new guest of the same name (a rescue
        guest, and the server's own again after it). Idempotent, as destroy."""

    async def attach_nic(self, name: str, nic: Nic) -> None:
        """Plug ``nic`` into the guest, running or not, and into its definition, so
        it stays across power cycles. Needs :attr:`Capability.HOT_PLUG`.
        Idempotent: a NIC with the same MAC already there is left as it is."""
        self.require(Capability.HOT_PLUG)
        raise NotImplementedError

    async def detach_nic(self, name: str, mac: str, *, timeout: float = 30.0) -> bool:
        """Unplug the NIC with ``mac`` from the guest and its definition, waiting
        up to ``timeout`` seconds for a running guest to let go of it (the guest
        takes part: PCI hot-unplug); False if it was not there. Needs
        :attr:`Capability.HOT_PLUG`."""
        self.require(Capability.HOT_PLUG)
        raise NotImplementedError

    async def attach_disk(self, name: str, disk: VolumeDisk) -> None:
        """Add ``disk`` to the guest's definition, and to the running guest when the
        driver can hot-plug (:attr:`Capability.HOT_PLUG`; a driver that cannot
        changes only the definition: the guest has the disk from its next start).
        Idempotent: a disk with the same serial already there is left as it is."""
        raise NotImplementedError

    async def detach_disk(self, name: str, serial: str, *, timeout: float = 30.0) -> bool:
        """Remove the disk whose serial is ``serial`` from the definition and the
        running guest, waiting up to ``timeout`` seconds for the guest to let go;
        False if the guest had no such disk."""
        raise NotImplementedError

    async def disks(self, name: str) -> list[str]:
        """The serials of the guest's disks (its definition's)."""
        raise NotImplementedError

    async def inject_nmi(self, name: str) -> None:
        """Send the running guest a non-maskable interrupt (Nova's crash-dump
        trigger). Raises :class:`InvalidGuestState` unless it runs."""
        raise NotImplementedError

    async def nics(self, name: str) -> list[Nic]:
        """The guest's NICs as its definition has them now."""
        raise NotImplementedError

    async def set_password(self, name: str, user: str, password: str) -> None:
        """Have the running guest's agent set ``user``'s password (the guest must
        run an agent on its ``org.qemu.guest_agent.0`` port: a guest without one
        fails with :class:`HypervisorError` once the hypervisor gives up waiting).
        Needs :attr:`Capability.SET_PASSWORD`; raises :class:`InvalidGuestState`
        unless the guest runs."""
        self.require(Capability.SET_PASSWORD)
        raise NotImplementedError

    async def open_console(self, name: str) -> ConsoleChannel:
        """A two-way byte channel to the running guest's serial console (what it
        prints from now on; what is written reaches it as typed input). Opening
        one takes the console from any earlier channel, which then ends. Needs
        :attr:`Capability.SERIAL_CONSOLE`; raises :class:`InvalidGuestState`
        unless the guest runs."""
        self.require(Capability.SERIAL_CONSOLE)
        raise NotImplementedError

    @abc.abstractmethod
    async def console_output(self, name: str, *, max_bytes: int = 1 << 20) -> str:
        """The last ``max_bytes`` of what the guest wrote to its serial console
        since it last started (empty before the first start). Needs
        :attr:`Capability.CONSOLE`."""

    @abc.abstractmethod
    async def stats(self, name: str) -> GuestStats:
        """The guest's CPU, memory, disk and NIC counters (Nova's diagnostics);
        counters only while it runs. Raises :class:`GuestNotFound`."""

    @abc.abstractmethod
    def events(self) -> EventSubscription:
        """Subscribe to lifecycle events (see :class:`EventSubscription`); the
        subscription receives every event sent after this call returns."""

    @abc.abstractmethod
    async def close(self) -> None:
        """Close the connection; open subscriptions end. Guests keep running.
        Idempotent."""

    def require(self, capability: Capability) -> None:
        """Raise :class:`UnsupportedOperation` unless the driver has ``capability``."""
        if capability not in self.capabilities:
            raise UnsupportedOperation(capability, type(self).__name__)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
