"""Running the network agent of this machine inside ``cairn up``.

``--network-agent`` decides: ``on`` runs it (it needs root, iproute2, dnsmasq
and nftables, and fails the start loudly without them), ``off`` does not (the
API still answers; ports stay ``DOWN`` and guests get no NIC wiring), ``auto``
(the default) runs it when this process is root and the tools are there, and
says so in the log either way. One machine has one network agent: its
datapath owns the bridges, namespaces and tables named Cairn's way.

The metadata service answers guests from the compute and networking read
models of this process (:func:`compute_lookup`).
"""

from __future__ import annotations

import base64
import binascii
import os
import shutil
from collections.abc import AsyncIterator, Callable
from typing import Any

from aiohttp import web

from cairn.agents.compute.instance_metadata import (
    FixedAddress,
    InstanceMetadata,
    PortAddressing,
    network_data,
)
from cairn.agents.compute.runtime import host_names
from cairn.agents.network.agent import NetworkAgent
from cairn.agents.network.datapath import Datapath
from cairn.agents.network.desired import tap_name
from cairn.agents.network.metadata import Lookup
from cairn.api.keys import STORE
from cairn.api.services import CleanupContext
from cairn.config import Settings
from cairn.errors import CairnError
from cairn.logs import get_logger
from cairn.projections.compute import ComputeState
from cairn.projections.compute_state import server_hostname
from cairn.projections.network import NetworkState

log = get_logger(__name__)
TOOLS = ("ip", "dnsmasq", "nft")


class NetworkAgentUnavailable(CairnError):
    """``--network-agent on`` on a machine where it cannot run; the message says why."""


def missing() -> list[str]:
    """Why the network agent cannot run here (empty: it can)."""
    reasons = [f"{tool} is not installed" for tool in TOOLS if shutil.which(tool) is None]
    if os.geteuid() != 0:
        reasons.append("it needs root (bridges, namespaces and nftables)")
    return reasons


def compute_lookup(
    networks: Callable[[], NetworkState], compute: Callable[[], ComputeState | None]
) -> Lookup:
    """Metadata answers from this process's read models: the port with that fixed
    address on that network, then the server the port belongs to."""

    async def lookup(network_id: str, address: str) -> InstanceMetadata | None:
        state = networks()
        port = next(
            (
                p
                for p in state.of("port").values()
                if p.get("network_id") == network_id
                and any(f["ip_address"] == address for f in p.get("fixed_ips") or [])
            ),
            None,
        )
        servers = compute()
        if port is None or servers is None:
            return None
        server = servers.servers.get(port.get("device_id") or "")
        if server is None or server.deleted:
            return None
        keys = {}
        if server.key_name:
            pair = servers.keypairs.get(server.user_id, {}).get(server.key_name)
            if pair is not None:
                keys[server.key_name] = pair.public_key
        user_data = None
        if server.user_data:
            try:
                user_data = base64.b64decode(server.user_data)
            except (binascii.Error, ValueError):
                user_data = None
        return InstanceMetadata(
            uuid=server.id,
            name=server.name,
            hostname=server_hostname(server),
            project_id=server.project_id,
            availability_zone=server.host_zone or server.availability_zone or "nova",
            public_keys=keys,
            user_data=user_data,
            meta=dict(server.metadata),
            network_data=_network_data(state, server.id),
            launch_index=server.launch_index,
        )

    return lookup


def _network_data(state: NetworkState, server_id: str) -> dict[str, Any]:
    """Nova's ``network_data.json`` for the server's ports on this read model."""
    ports = []
    for port in state.of("port").values():
        if port.get("device_id") != server_id:
            continue
        addresses = []
        for fixed in port.get("fixed_ips") or []:
            subnet = state.find("subnet", fixed["subnet_id"])
            if subnet is None:
                continue
            addresses.append(
                FixedAddress(
                    ip_address=fixed["ip_address"],
                    network_id=port.get("network_id"),
                    ip_version=subnet.get("ip_version"),
                    cidr=subnet.get("cidr"),
                    gateway_ip=subnet.get("gateway_ip"),
                    enable_dhcp=bool(subnet.get("enable_dhcp")),
                    dns_nameservers=tuple(subnet.get("dns_nameservers") or ()),
                )
            )
        network = state.find("network", port.get("network_id"))
        ports.append(
            PortAddressing(
                port_id=port.id,
                link=tap_name(port.id),
                mac=port.get("mac_address"),
                mtu=(network or port).get("mtu"),
                addresses=tuple(addresses),
            )
        )
    return network_data(ports)


def network_agent_context(
    settings: Settings,
    *,
    compute: Callable[[web.Application], ComputeState | None] = lambda app: None,
) -> CleanupContext:
    """The machine's network agent, when ``settings.network_agent`` wants it."""

    async def network_agent_ctx(app: web.Application) -> AsyncIterator[None]:
        reasons = missing()
        if settings.network_agent == "off" or (settings.network_agent == "auto" and reasons):
            if settings.network_agent == "auto":
                log.warning(
                    "no network agent: ports stay DOWN, guests' NICs are not wired",
                    reasons="; ".join(reasons),
                )
            yield
            return
        if reasons:
            raise NetworkAgentUnavailable(
                f"--network-agent on, but the network agent cannot run: {'; '.join(reasons)}"
            )
        agent: NetworkAgent | None = None

        def networks() -> NetworkState:
            assert agent is not None
            return agent.state

        datapath = Datapath(
            settings.data_dir / "network", metadata=compute_lookup(networks, lambda: compute(app))
        )
        hosts = host_names(settings.compute_hosts) if settings.compute_hosts else []
        agent = NetworkAgent(app[STORE], datapath, hosts, name=host_names(1)[0])
        await agent.start()
        log.info("network agent running", hosts=hosts)
        try:
            yield
        finally:
            await agent.stop()

    return network_agent_ctx
