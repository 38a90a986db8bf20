"""One compute host's settings, and the shared pieces its steps work with."""

from __future__ import annotations

from dataclasses import dataclass, field

from cairn.agents.compute.driver import HypervisorDriver
from cairn.agents.compute.guest_plan import HostPaths
from cairn.agents.compute.images import ImageCache
from cairn.agents.compute.nics import PortBinder
from cairn.agents.compute.volumes_cinder import CinderVolumes
from cairn.events import compute as ev
from cairn.sealing import CannotOpen, Sealer
from cairn.store.port import EventStore


@dataclass(frozen=True)
class AgentConfig:
    """What one compute agent runs as. Deadlines are in seconds."""

    host: str
    paths: HostPaths
    availability_zone: str = "nova"
    heartbeat_interval: float = 30.0
    #: Image download, disk and domain creation, start.
    spawn_timeout: float = 300.0
    #: Any power action, the clean shutdown of a stop or soft reboot included.
    action_timeout: float = 150.0
    delete_timeout: float = 120.0
    #: A snapshot: the disk's copy and its upload to the image service.
    snapshot_timeout: float = 600.0
    #: How long a stop (and a soft reboot) waits for the guest's ACPI shutdown
    #: before pulling the plug (Nova's ``shutdown_timeout``).
    clean_shutdown_timeout: float = 60.0
    #: Servers the agent works on at the same time.
    concurrency: int = 8
    #: On a clean stop, how long operations under way may take to finish
    #: before they are cancelled (a cancelled spawn leaves nothing behind).
    stop_grace: float = 10.0
    reserved: ev.ResourceAmounts = field(default_factory=ev.ResourceAmounts)
    cpu_allocation_ratio: float = 4.0
    ram_allocation_ratio: float = 1.0
    disk_allocation_ratio: float = 1.0
    #: How long a spawn waits for its networks' bridges (the network agent makes
    #: them); 0: not at all (libvirt's test driver plugs into nothing).
    bridge_wait: float = 0.0
    #: Where this host's serial consoles are served (the console proxy's
    #: ``ws://`` URL; empty: no serial consoles). Registered with the host.
    serial_console_url: str = ""


@dataclass(frozen=True)
class HostContext:
    """What every step of one host's agent acts through."""

    config: AgentConfig
    store: EventStore
    driver: HypervisorDriver
    images: ImageCache
    #: binds the servers' ports to this host (None: servers with NICs cannot spawn here)
    ports: PortBinder | None = None
    #: reaches the volume service (None: volumes cannot be attached here)
    volumes: CinderVolumes | None = None
    #: opens the passwords requests carry sealed (None: this host holds no keys)
    secrets: Sealer | None = None

    @property
    def host(self) -> str:
        return self.config.host

    def open_secret(self, sealed: str | None) -> str | None:
        """The plaintext of a password a request carries sealed (None for none).
        Raises CannotOpen when this host does not hold the key it was sealed with
        (an agent on another machine needs a copy of <data-dir>/guest-secret-keys)."""
        if sealed is None:
            return None
        if self.secrets is None:
            raise CannotOpen("this host holds no guest-secret keys")
        return self.secrets.open(sealed)
