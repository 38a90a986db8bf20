"""Network datapath benchmark: apply times for a host plan, and how soon a new tap is wired.

    python -m bench.network_datapath [--networks 20] [--ports-per-network 2] [--rounds 5]

Runs as root, entirely inside namespaces of its own (a "host" namespace the
Datapath works in, plus the DHCP, router and external namespaces it makes),
all removed at the end. The plan: ``--networks`` networks, each with one DHCP
subnet (a lease per port) and ``--ports-per-network`` filtered ports, one
router with an interface on each and a gateway with one floating IP per
network, and the external namespace.

Prints: the first apply (everything created: namespaces, veths, dnsmasq
processes, nftables tables); the no-op re-apply (median and max of
``--rounds``; it only looks); a re-apply after one network's leases changed
(one dnsmasq sent SIGHUP); a single ``wired()`` call; and, for one port whose
tap appears after the apply (made and enslaved to its bridge as libvirt
would), the time from the tap joining the bridge to ``wired()`` reporting the
port (polled every 5 ms). Then the teardown. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable
from pathlib import Path

from cairn.agents.network.datapath import Datapath
from cairn.agents.network.desired import (
    ExternalSpec,
    FloatingIP,
    HostPlan,
    Lease,
    NetworkSpec,
    PortFilter,
    RouterPort,
    RouterSpec,
    SecurityRule,
    SubnetDhcp,
)

RULES = (
    SecurityRule("egress"),
    SecurityRule("ingress", protocol="icmp"),
    SecurityRule("ingress", protocol="tcp", port_min=22, port_max=22),
)


def build(networks: int, ports_per_network: int) -> HostPlan:
    nets: list[NetworkSpec] = []
    ports: list[PortFilter] = []
    interfaces: list[RouterPort] = []
    floating: list[FloatingIP] = []
    for i in range(networks):
        macs = [
            f"fa:16:3e:{i // 256:02x}:{i % 256:02x}:{10 + p:02x}" for p in range(ports_per_network)
        ]
        ips = [f"10.{i // 256}.{i % 256}.{10 + p}" for p in range(ports_per_network)]
        prefix = f"10.{i // 256}.{i % 256}"
        subnet = SubnetDhcp(
            str(uuid.uuid4()),
            f"{prefix}.0/24",
            f"{prefix}.2",
            f"{prefix}.1",
            leases=tuple(
                Lease(m, ip, f"vm-{i}-{p}") for p, (m, ip) in enumerate(zip(macs, ips, strict=True))
            ),
        )
        net = NetworkSpec(str(uuid.uuid4()), dhcp=(subnet,))
        nets.append(net)
        ports += [
            PortFilter(str(uuid.uuid4()), net.bridge, m, (ip,), rules=RULES)
            for m, ip in zip(macs, ips, strict=True)
        ]
        interfaces.append(
            RouterPort(
                str(uuid.uuid4()),
                net.bridge,
                f"{prefix}.1/24",
                f"fa:16:3e:ff:{i // 256:02x}:{i % 256:02x}",
            )
        )
        if ips:
            floating.append(FloatingIP(f"172.24.{5 + i // 250}.{i % 250 + 1}", ips[0]))
    public = NetworkSpec(str(uuid.uuid4()))
    router = RouterSpec(
        str(uuid.uuid4()),
        gateway=RouterPort(str(uuid.uuid4()), public.bridge, "172.24.4.2/16", "fa:16:3e:ee:00:02"),
        gateway_nexthop="172.24.4.1",
        interfaces=tuple(interfaces),
        floating_ips=tuple(floating),
    )
    return HostPlan(
        networks=(*nets, public),
        routers=(router,),
        ports=tuple(ports),
        external=ExternalSpec(public.bridge, "172.24.4.1/16"),
    )


def sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


async def timed(coro: Awaitable[object]) -> float:
    started = time.perf_counter()
    await coro
    return time.perf_counter() - started


async def run(networks: int, ports_per_network: int, rounds: int) -> None:
    tag = f"bn{uuid.uuid4().hex[:6]}"
    host = f"{tag}-host"
    guest = f"{tag}-guest"
    plan = build(networks, ports_per_network)
    with tempfile.TemporaryDirectory(prefix="cairn-bench-net-") as state:
        await asyncio.to_thread(sh, "ip", "netns", "add", host)
        datapath = Datapath(Path(state), netns=host, namespace_prefix=f"{host}-")
        try:
            print(
                f"plan: {networks} networks with DHCP, {len(plan.ports)} filtered ports, 1 router "
                f"({networks} interfaces, {len(plan.routers[0].floating_ips)} floating IPs)"
            )
            first = await timed(datapath.apply(plan))
            print(
                f"first apply:            {first * 1000:8.1f} ms  ({len(datapath.changes)} changes)"
            )
            noops = [await timed(datapath.apply(plan)) for _ in range(rounds)]
            print(
                f"no-op re-apply:         {statistics.median(noops) * 1000:8.1f} ms median, "
                f"{max(noops) * 1000:.1f} ms max ({len(datapath.changes)} changes)"
            )
            net = plan.networks[0]
            subnet = net.dhcp[0]
            moved = SubnetDhcp(
                **{
                    **subnet.__dict__,
                    "leases": (
                        *subnet.leases,
                        Lease("fa:16:3e:aa:aa:aa", subnet.cidr.rsplit(".", 1)[0] + ".200", "new"),
                    ),
                }
            )
            changed = HostPlan(
                **{
                    **plan.__dict__,
                    "networks": (
                        NetworkSpec(**{**net.__dict__, "dhcp": (moved,)}),
                        *plan.networks[1:],
                    ),
                }
            )
            lease = await timed(datapath.apply(changed))
            print(f"one network's leases:   {lease * 1000:8.1f} ms  ({datapath.changes})")
            call = await timed(datapath.wired(plan))
            print(f"wired() call:           {call * 1000:8.1f} ms")

            port = plan.ports[0]
            await asyncio.to_thread(sh, "ip", "netns", "add", guest)
            await asyncio.to_thread(
                sh, "ip", "-n", guest, "link", "add", "eth0", "address", port.mac, "type", "veth",
                "peer", "name", port.tap, "netns", host,
            )  # fmt: skip
            before = await datapath.wired(plan)
            started = time.perf_counter()
            await asyncio.to_thread(
                sh, "ip", "-n", host, "link", "set", port.tap, "master", port.bridge, "up"
            )
            for _ in range(2000):  # polled, as the agent will report a port UP
                if port.port_id in await datapath.wired(plan):
                    break
                await asyncio.sleep(0.005)
            joined = time.perf_counter() - started
            print(
                f"tap joins -> wired:     {joined * 1000:8.1f} ms  (was wired before: "
                f"{port.port_id in before}; the filter was loaded before the tap existed)"
            )
        finally:
            down = await timed(datapath.teardown())
            await datapath.close()
            print(f"teardown:               {down * 1000:8.1f} ms")
            for namespace in (guest, host):
                await asyncio.to_thread(
                    subprocess.run, ["ip", "netns", "delete", namespace], capture_output=True
                )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--networks", type=int, default=20)
    parser.add_argument("--ports-per-network", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(run(args.networks, args.ports_per_network, args.rounds))


if __name__ == "__main__":
    main()
