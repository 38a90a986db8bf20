"""Idempotence and convergence: re-applying changes nothing; whatever an
interrupted apply or a hand left behind, the next apply converges."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import sys
import time
import uuid
from pathlib import Path

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
    VxlanSpec,
)

from .conftest import Host
from .lab import Lab, check, dnsmasq_under, sh


def full_plan(networks: int = 2) -> HostPlan:
    nets = []
    for i in range(networks):
        subnet = SubnetDhcp(
            str(uuid.uuid4()), f"10.{i}.0.0/24", f"10.{i}.0.2", f"10.{i}.0.1",
            leases=(Lease(f"fa:16:3e:00:{i:02x}:05", f"10.{i}.0.5", f"vm{i}"),), metadata=False,
        )  # fmt: skip
        nets.append(
            NetworkSpec(
                str(uuid.uuid4()),
                mtu=1450,
                dhcp=(subnet,),
                dhcp_mac=f"fa:16:3e:00:{i:02x}:02",
                vxlan=VxlanSpec(100 + i, "192.0.2.1", ("192.0.2.2", "192.0.2.3")),
            )
        )
    public = NetworkSpec(str(uuid.uuid4()))
    router = RouterSpec(
        str(uuid.uuid4()),
        gateway=RouterPort(str(uuid.uuid4()), public.bridge, "172.24.4.2/24", "fa:16:3e:00:ff:02"),
        gateway_nexthop="172.24.4.1",
        interfaces=tuple(
            RouterPort(
                str(uuid.uuid4()), n.bridge, f"10.{i}.0.1/24", f"fa:16:3e:00:{i:02x}:01", 1450
            )
            for i, n in enumerate(nets)
        ),
        floating_ips=(FloatingIP("172.24.4.10", "10.0.0.5"),),
        routes=(("192.168.9.0/24", "10.0.0.254"),),
    )
    ports = tuple(
        PortFilter(
            str(uuid.uuid4()),
            n.bridge,
            f"fa:16:3e:00:{i:02x}:05",
            (f"10.{i}.0.5",),
            rules=(
                SecurityRule("egress"),
                SecurityRule("ingress", protocol="tcp", port_min=22, port_max=22),
            ),
        )
        for i, n in enumerate(nets)
    )
    return HostPlan(
        networks=(*nets, public),
        routers=(router,),
        ports=ports,
        external=ExternalSpec(public.bridge, "172.24.4.1/24"),
    )


async def underlay(host: Host) -> None:
    """A device holding the VXLAN source address (no peer host needed here)."""
    await check(
        host.namespace,
        "ip",
        "link",
        "add",
        "underlay0",
        "type",
        "veth",
        "peer",
        "name",
        "underlay1",
    )
    await check(host.namespace, "ip", "addr", "add", "192.0.2.1/24", "dev", "underlay0")
    await check(host.namespace, "ip", "link", "set", "underlay0", "up")


async def observe(host: Host, lab: Lab) -> dict[str, str]:
    """Everything observable of the host's datapath, as text."""
    seen = {
        # without flags and operstate: carrier comes up on its own after an apply
        "links": re.sub(r"<\S*>|state \S+", "", await check(host.namespace, "ip", "-o", "link")),
        "addresses": await check(host.namespace, "ip", "-o", "addr"),
        "fdb": await check(host.namespace, "bridge", "fdb", "show"),
        "nft": await check(host.namespace, "nft", "list", "ruleset"),
        "dnsmasq": str(sorted(dnsmasq_under(host.state_dir))),
    }
    for namespace in lab.leftovers():
        if namespace.startswith(f"{host.namespace}-"):
            seen[namespace] = (
                await check(namespace, "ip", "-o", "addr")
                + await check(namespace, "ip", "route")
                + await check(namespace, "nft", "list", "ruleset")
            )
    return seen


async def test_applying_the_same_plan_twice_changes_nothing(host: Host, lab: Lab) -> None:
    await underlay(host)
    plan = full_plan()
    await host.datapath.apply(plan)
    assert host.datapath.changes
    before = await observe(host, lab)

    started = time.perf_counter()
    await host.datapath.apply(plan)
    elapsed = time.perf_counter() - started

    assert host.datapath.changes == []
    assert await observe(host, lab) == before
    print(f"no-op re-apply of {len(plan.networks)} networks, 1 router: {elapsed * 1000:.1f} ms")
    assert len([n for n in lab.leftovers() if n.startswith(host.namespace + "-")]) == 4


async def test_a_network_left_out_of_the_plan_is_removed_and_the_others_untouched(
    host: Host, lab: Lab
) -> None:
    await underlay(host)
    plan = full_plan()
    await host.datapath.apply(plan)
    gone, kept = plan.networks[0], plan.networks[1]
    kept_pid = [p for p in dnsmasq_under(host.state_dir) if _names(p, kept.network_id)]

    router = plan.routers[0]
    smaller = HostPlan(
        networks=plan.networks[1:],
        routers=(
            RouterSpec(
                **{
                    **router.__dict__,
                    "interfaces": router.interfaces[1:],
                    "floating_ips": (),
                    "routes": (),
                }
            ),
        ),
        ports=plan.ports[1:],
        external=plan.external,
    )
    await host.datapath.apply(smaller)

    links = await check(host.namespace, "ip", "-o", "link")
    assert gone.bridge not in links
    assert "vx-100" not in links
    assert kept.bridge in links
    assert host.datapath.dhcp_namespace(gone.network_id) not in lab.leftovers()
    assert [p for p in dnsmasq_under(host.state_dir) if _names(p, gone.network_id)] == []
    assert [p for p in dnsmasq_under(host.state_dir) if _names(p, kept.network_id)] == kept_pid
    assert not (host.state_dir / "dhcp" / gone.network_id).exists()
    await host.datapath.apply(smaller)
    assert host.datapath.changes == []


def _names(pid: int, network_id: str) -> bool:
    return network_id in Path(f"/proc/{pid}/cmdline").read_bytes().decode()


async def test_leftovers_made_by_hand_are_removed(host: Host, lab: Lab) -> None:
    await underlay(host)
    plan = full_plan(1)
    ns = host.namespace
    await check(ns, "ip", "link", "add", "brqdeadbeef123", "type", "bridge")
    await check(ns, "ip", "link", "add", "vx-999", "type", "vxlan", "id", "999", "dstport", "4789")
    await check(
        ns, "ip", "link", "add", "dh-deadbeef12", "type", "veth", "peer", "name", "tapdeadbeef12"
    )
    await check(ns, "nft", "add", "table", "ip", "cairn-junk")
    stray = host.datapath.dhcp_namespace(str(uuid.uuid4()))
    await check(None, "ip", "netns", "add", stray)
    lab.made.append(stray)
    sleeper = await asyncio.create_subprocess_exec(
        "nsenter", f"--net=/run/netns/{stray}", "sleep", "600"
    )
    stray_router = host.datapath.router_namespace(str(uuid.uuid4()))
    await check(None, "ip", "netns", "add", stray_router)
    lab.made.append(stray_router)

    await host.datapath.apply(plan)

    links = await check(ns, "ip", "-o", "link")
    for name in ("brqdeadbeef123", "vx-999", "dh-deadbeef12"):
        assert f" {name}:" not in links
        assert f" {name}@" not in links
    assert "tapdeadbeef12" not in links  # a veth's other end goes with it
    assert "cairn-junk" not in await check(ns, "nft", "list", "tables")
    assert stray not in lab.leftovers()
    assert stray_router not in lab.leftovers()
    assert await asyncio.wait_for(sleeper.wait(), 5) == -signal.SIGKILL
    await host.datapath.apply(plan)
    assert host.datapath.changes == []


REPO = Path(__file__).resolve().parents[3]
CRASHING = """
import asyncio, sys
from pathlib import Path
from cairn.agents.network.datapath import Datapath
from tests.agents.network.test_reconcile import full_plan

async def main():
    datapath = Datapath(Path(sys.argv[1]), netns=sys.argv[2], namespace_prefix=sys.argv[3])
    print("applying", flush=True)
    await datapath.apply(full_plan(3))
    print("applied", flush=True)
    await asyncio.sleep(600)

asyncio.run(main())
"""


async def test_a_datapath_killed_mid_apply_is_finished_or_undone_by_the_next(
    host: Host, lab: Lab
) -> None:
    await underlay(host)
    prefix = f"{host.namespace}-"
    for delay in (0.25, 0.6, None):  # two kills mid-way, one after the apply
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-c", CRASHING, str(host.state_dir), host.namespace, prefix,
            stdout=asyncio.subprocess.PIPE, cwd=REPO,
        )  # fmt: skip
        assert proc.stdout is not None
        assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"applying\n"
        if delay is None:
            assert await asyncio.wait_for(proc.stdout.readline(), 30) == b"applied\n"
        else:
            await asyncio.sleep(delay)
        os.kill(proc.pid, signal.SIGKILL)
        await proc.wait()

        plan = full_plan(1)
        await host.datapath.apply(plan)
        await host.datapath.apply(plan)
        assert host.datapath.changes == []
        names = {n.removeprefix(prefix) for n in lab.leftovers() if n.startswith(prefix)}
        assert len(names) == 3  # its DHCP namespace, its router's, the external one
        assert len(dnsmasq_under(host.state_dir)) == 1
        await host.datapath.apply(HostPlan())
        assert dnsmasq_under(host.state_dir) == []
        assert [n for n in lab.leftovers() if n.startswith(prefix)] == []


async def test_a_cancelled_apply_leaves_what_the_next_apply_finishes(host: Host, lab: Lab) -> None:
    await underlay(host)
    plan = full_plan(3)
    cancelled = 0
    for delay in (0.005, 0.02, 0.05, 0.1):
        task = asyncio.create_task(host.datapath.apply(plan))
        await asyncio.sleep(delay)
        cancelled += task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await host.datapath.apply(plan)
        await host.datapath.apply(plan)
        assert host.datapath.changes == []
        assert (await sh(host.namespace, "ip", "link", "show", plan.networks[2].bridge)).rc == 0
        await host.datapath.apply(HostPlan())
    assert cancelled


async def test_a_namespace_deleted_by_hand_is_remade_with_its_dnsmasq(
    host: Host, lab: Lab, tmp_path: Path
) -> None:
    await underlay(host)
    plan = full_plan(1)
    await host.datapath.apply(plan)
    net = plan.networks[0]
    (old,) = dnsmasq_under(host.state_dir)

    await check(None, "ip", "netns", "delete", host.datapath.dhcp_namespace(net.network_id))
    await host.datapath.apply(plan)

    assert any("create namespace" in c for c in host.datapath.changes)
    (new,) = dnsmasq_under(host.state_dir)
    assert new != old
    guest = await lab.guest(host.namespace, "g1", tap=plan.ports[0].tap, mac=plan.ports[0].mac,
                            bridge=net.bridge)  # fmt: skip
    lease = await guest.udhcpc(tmp_path)
    assert lease is not None
    assert lease["ip"] == "10.0.0.5"
