"""A server's NICs: its ports bound to this host, plugged into their networks' bridges.

Before the guest is defined the agent binds each of the server's ports to its
host (``binding:host_id``, as nova-compute asks Neutron), which tells the
network agent to wire the port's filter, and learns each port's MAC, network
and addresses. The guest gets one virtio NIC per port on the network's bridge,
with the port's MAC and a tap named after the port (``tap`` + 11 characters of
its id), the names the network agent looks for; ``addresses`` is what the
server shows (Nova's shape, by network name).
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from cairn.agents.compute.driver import Nic
from cairn.agents.compute.instance_metadata import FixedAddress, PortAddressing
from cairn.agents.network.desired import bridge_name, tap_name
from cairn.errors import CairnError
from cairn.events import compute as ev

Addresses = dict[str, list[dict[str, str | int]]]


class PortError(CairnError):
    """A port could not be bound (gone, or the networking service refused)."""


class PortGone(PortError):
    """The port does not exist (any more)."""


@dataclass(frozen=True, slots=True)
class BoundPort:
    port_id: str
    network_id: str
    network_name: str
    mac: str
    fixed_ips: tuple[str, ...]
    mtu: int | None = None
    #: the fixed addresses with their subnets' details (for the config drive)
    addressing: tuple[FixedAddress, ...] = ()

    def described(self) -> PortAddressing:
        """The port as ``network_data.json`` describes it."""
        return PortAddressing(
            port_id=self.port_id,
            link=tap_name(self.port_id),
            mac=self.mac,
            mtu=self.mtu,
            addresses=self.addressing,
        )


class PortBinder(Protocol):
    async def bind(self, port_id: str, host: str) -> BoundPort:
        """Bind ``port_id`` to ``host``; its details. Raises :class:`PortError`."""
        ...

    async def unbind(self, port_id: str) -> None:
        """Bind ``port_id`` to no host (it stays the server's: a shelved server's
        ports, as Nova leaves them). A port gone already is not an error.
        Raises :class:`PortError`."""
        ...

    async def close(self) -> None: ...


async def bridge_ready(bridge: str, timeout: float) -> None:
    """Return once ``bridge`` exists on this host; :class:`PortError` after ``timeout``."""
    path = Path("/sys/class/net") / bridge
    deadline = time.monotonic() + timeout
    while not await asyncio.to_thread(path.exists):
        if time.monotonic() > deadline:
            raise PortError(
                f"bridge {bridge} does not exist on this host after {timeout:g}s: "
                f"is the network agent running?"
            )
        await asyncio.sleep(0.05)


@dataclass(frozen=True, slots=True)
class Plugged:
    """A server's NICs as the spawn plugs them."""

    nics: tuple[Nic, ...] = ()
    addresses: Addresses = field(default_factory=dict)
    ports: tuple[BoundPort, ...] = ()


async def plug(
    binder: PortBinder | None,
    host: str,
    request: ev.ServerCreateRequested,
    *,
    bridge_wait: float = 0.0,
) -> Plugged:
    """The guest's NICs and the server's addresses, binding every port to ``host``
    (and waiting up to ``bridge_wait`` seconds for each network's bridge)."""
    ports = [n["port"] for n in request.networks if n.get("port")]
    nics: list[Nic] = []
    bound: list[BoundPort] = []
    addresses: Addresses = {}
    for port_id in ports:
        nic, mine, port = await plug_one(binder, host, port_id, bridge_wait=bridge_wait)
        nics.append(nic)
        bound.append(port)
        for network, listed in mine.items():
            addresses.setdefault(network, []).extend(listed)
    return Plugged(tuple(nics), addresses, tuple(bound))


async def plug_one(
    binder: PortBinder | None, host: str, port_id: str, *, bridge_wait: float = 0.0
) -> tuple[Nic, Addresses, BoundPort]:
    """One port bound to ``host``: its NIC, its addresses (by network name), its details."""
    if binder is None:
        raise PortError("this compute host has no networking: it cannot plug the server's ports")
    bound = await binder.bind(port_id, host)
    if bridge_wait > 0:
        await bridge_ready(bridge_name(bound.network_id), bridge_wait)
    nic = Nic(bridge=bridge_name(bound.network_id), mac=bound.mac, tap=tap_name(bound.port_id))
    addresses: Addresses = {
        bound.network_name: [
            {
                "addr": address,
                "version": ipaddress.ip_address(address).version,
                "OS-EXT-IPS:type": "fixed",
                "OS-EXT-IPS-MAC:mac_addr": bound.mac,
            }
            for address in bound.fixed_ips
        ]
    }
    return nic, addresses, bound


async def unplug_all(binder: PortBinder | None, nics: list[dict[str, str]]) -> None:
    """Unbind every port of ``nics`` (a server's NICs) from its host."""
    if binder is None:
        return
    for nic in nics:
        if nic.get("port"):
            await binder.unbind(nic["port"])
