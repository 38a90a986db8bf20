"""Networking benchmark: port creates through the API, port create to a wired
datapath, boot to DHCP lease on real guests, floating IP to first packet.

    python -m bench.network [--ports 2000] [--clients 32] [--wired 20] [--guests 5]

Starts ``cairn up`` in a subprocess (a fresh data directory, SQLite,
``qemu:///system`` with one compute host, ``--network-agent on``, warnings only)
and, as the demo project (its port quota raised by the admin):

1. ``--clients`` concurrent clients create ``--ports`` ports on one /20 network
   (every port gets an address decided on the subnet's stream and a lease in
   the network's dnsmasq): creates/s over the phase, p50/p99 per POST.
2. ``--wired`` times, as the admin: a port bound to this host, then its tap
   made and put on the network's bridge as libvirt does when a guest starts,
   then the port polled (every 10 ms) until ``ACTIVE``: from the POST, and from
   the tap's plug.
3. ``--guests`` real guests booted one at a time: from the POST to the guest's
   ``GUEST-UP`` (its own boot) and to its ``LEASE`` line (DHCP), read from the
   console every 200 ms.
4. A floating IP associated with the first guest, pinged from the
   ``cairn-public`` namespace every 10 ms (a raw ICMP socket) from before the
   PUT that associates it: from the PUT to the first reply.

A CPU reference (a 10M-iteration loop) is printed first. Figures only; nothing
is asserted. Needs root, libvirtd (``scripts/libvirtd``) and the test guest
(``scripts/build-guest-image``). The datapath is torn down at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import uvloop
import yaml

from bench.compute import cpu_reference, free_port

BIN = Path(sys.executable).parent
REPO = Path(__file__).resolve().parents[1]


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class Api:
    def __init__(self, session: aiohttp.ClientSession, base: str, token: str) -> None:
        self.session, self.base, self.token = session, base, token

    async def call(self, method: str, path: str, body: Any = None, *, ok: bool = True) -> Any:
        headers = {"X-Auth-Token": self.token, "OpenStack-API-Version": "compute 2.100"}
        async with self.session.request(
            method, self.base + path, json=body, headers=headers
        ) as response:
            found = await response.json() if response.content_type == "application/json" else None
            if ok and response.status >= 300:
                raise RuntimeError(f"{method} {path}: {response.status} {found}")
            return found


async def login(session: aiohttp.ClientSession, base: str, cloud: dict[str, Any]) -> str:
    auth = cloud["auth"]
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {
                    "user": {
                        "name": auth["username"],
                        "domain": {"name": auth["user_domain_name"]},
                        "password": auth["password"],
                    }
                },
            },
            "scope": {
                "project": {
                    "name": auth["project_name"],
                    "domain": {"name": auth["project_domain_name"]},
                }
            },
        }
    }
    async with session.post(f"{base}/identity/v3/auth/tokens", json=body) as response:
        return response.headers["X-Subject-Token"]


async def port_creates(demo: Api, network_id: str, count: int, clients: int) -> None:
    latencies: list[float] = []
    errors = 0
    queue = list(range(count))

    async def client() -> None:
        nonlocal errors
        while queue:
            queue.pop()
            started = time.perf_counter()
            found = await demo.call(
                "POST", "/networking/v2.0/ports", {"port": {"network_id": network_id}}, ok=False
            )
            latencies.append(time.perf_counter() - started)
            if not found or "port" not in found:
                errors += 1

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(clients)))
    elapsed = time.perf_counter() - started
    print(
        f"port creates: {count} by {clients} clients in {elapsed:.2f} s: "
        f"{count / elapsed:.0f}/s, p50 {pct(latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {pct(latencies, 0.99) * 1000:.1f} ms, errors {errors}"
    )


def _sh(*argv: str) -> None:
    subprocess.run(argv, check=True, capture_output=True)


async def wired(admin: Api, network_id: str, host: str, samples: int) -> None:
    from cairn.agents.network.desired import bridge_name, tap_name

    from_post, from_plug = [], []
    for _ in range(samples):
        started = time.perf_counter()
        port = (
            await admin.call(
                "POST",
                "/networking/v2.0/ports",
                {
                    "port": {
                        "network_id": network_id,
                        "binding:host_id": host,
                        "device_owner": "compute:bench",
                        "port_security_enabled": False,
                    }
                },
            )
        )["port"]
        tap = tap_name(port["id"])
        plugged = time.perf_counter()
        await asyncio.to_thread(_sh, "ip", "tuntap", "add", tap, "mode", "tap")
        await asyncio.to_thread(
            _sh, "ip", "link", "set", tap, "master", bridge_name(network_id), "up"
        )
        try:
            while True:
                found = await admin.call("GET", f"/networking/v2.0/ports/{port['id']}")
                if found["port"]["status"] == "ACTIVE":
                    break
                if time.perf_counter() - started > 30:
                    raise RuntimeError(f"port {port['id']} not ACTIVE after 30 s")
                await asyncio.sleep(0.01)
            done = time.perf_counter()
            from_post.append(done - started)
            from_plug.append(done - plugged)
        finally:
            await asyncio.to_thread(_sh, "ip", "link", "del", tap)
            await admin.call("DELETE", f"/networking/v2.0/ports/{port['id']}", ok=False)
    print(
        f"port create to ACTIVE ({samples} ports): from the POST p50 "
        f"{statistics.median(from_post) * 1000:.0f} ms (max {max(from_post) * 1000:.0f}), "
        f"from the tap's plug p50 {statistics.median(from_plug) * 1000:.0f} ms "
        f"(max {max(from_plug) * 1000:.0f})"
    )


async def guests(
    demo: Api, network_id: str, image_id: str, flavor_id: str, count: int
) -> list[str]:
    made = []
    for index in range(count):
        started = time.perf_counter()
        server = (
            await demo.call(
                "POST",
                "/compute/v2.1/servers",
                {
                    "server": {
                        "name": f"bench-{index}",
                        "imageRef": image_id,
                        "flavorRef": flavor_id,
                        "networks": [{"uuid": network_id}],
                    }
                },
            )
        )["server"]
        made.append(server["id"])
        up = lease = None
        while lease is None:
            if time.perf_counter() - started > 180:
                raise RuntimeError(f"guest {index}: no lease after 180 s")
            await asyncio.sleep(0.2)
            found = await demo.call(
                "POST",
                f"/compute/v2.1/servers/{server['id']}/action",
                {"os-getConsoleOutput": {}},
                ok=False,
            )
            text = (found or {}).get("output") or ""
            now = time.perf_counter() - started
            if up is None and "GUEST-UP" in text:
                up = now
            if "LEASE eth0" in text:
                lease = now
        assert up is not None
        print(
            f"guest {index + 1}: GUEST-UP {up:.1f} s, LEASE {lease:.1f} s after the POST "
            f"(DHCP's share {lease - up:.1f} s)"
        )
    return made


#: Sends an ICMP echo every 10 ms to argv[1] for up to 15 s and prints the wall
#: time of the first reply (run inside the external namespace).
PINGER = """
import os, socket, struct, sys, time
def checksum(data):
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    total = (total >> 16) + (total & 0xFFFF)
    return ~(total + (total >> 16)) & 0xFFFF
sock = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
sock.setblocking(False)
ident, deadline, seq = os.getpid() & 0xFFFF, time.time() + 15, 0
print("ready", flush=True)
while time.time() < deadline:
    seq += 1
    header = struct.pack("!BBHHH", 8, 0, 0, ident, seq)
    packet = struct.pack("!BBHHH", 8, 0, checksum(header + b"cairn!"), ident, seq) + b"cairn!"
    sock.sendto(packet, (sys.argv[1], 0))
    end = time.time() + 0.01
    while time.time() < end:
        try:
            reply = sock.recv(2048)
        except BlockingIOError:
            time.sleep(0.001)
            continue
        if reply[20] == 0 and struct.unpack("!H", reply[24:26])[0] == ident:
            print(repr(time.time()), flush=True)
            sys.exit(0)
print("none", flush=True)
"""


async def floating(demo: Api, public_id: str, server_id: str) -> None:
    ports = (await demo.call("GET", f"/networking/v2.0/ports?device_id={server_id}"))["ports"]
    fip = (
        await demo.call(
            "POST",
            "/networking/v2.0/floatingips",
            {"floatingip": {"floating_network_id": public_id}},
        )
    )["floatingip"]
    address = fip["floating_ip_address"]
    pinger = await asyncio.create_subprocess_exec(
        "ip",
        "netns",
        "exec",
        "cairn-public",
        sys.executable,
        "-c",
        PINGER,
        address,
        stdout=asyncio.subprocess.PIPE,
    )
    assert pinger.stdout is not None
    await pinger.stdout.readline()  # ready
    started = time.time()
    await demo.call(
        "PUT",
        f"/networking/v2.0/floatingips/{fip['id']}",
        {"floatingip": {"port_id": ports[0]["id"]}},
    )
    answer = (await pinger.stdout.readline()).decode().strip()
    await pinger.wait()
    if answer == "none":
        print("floating IP associate to first reply: no reply in 15 s")
    else:
        print(f"floating IP associate to first reply: {(float(answer) - started) * 1000:.0f} ms")


def start(data: Path, port: int) -> subprocess.Popen[str]:
    """``cairn up`` on real QEMU with the network agent, once it answers."""
    guest = subprocess.run(
        [str(REPO / "scripts" / "build-guest-image")], check=True, capture_output=True, text=True
    ).stdout.split()[0]
    process = subprocess.Popen(
        [
            str(BIN / "cairn"),
            "up",
            "--data-dir",
            str(data),
            "--listen",
            f"127.0.0.1:{port}",
            "--hypervisor",
            "qemu:///system",
            "--network-agent",
            "on",
            "--bcrypt-cost",
            "4",
            "--log-level",
            "warning",
            "--guest-dir",
            str(Path(guest).parent),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if "Cairn is up" not in line:
        process.kill()
        raise RuntimeError(f"cairn up did not start: {line!r}")
    return process


async def main(args: argparse.Namespace) -> None:
    print(f"CPU reference: {cpu_reference():.2f} s for a 10M-iteration loop")
    with tempfile.TemporaryDirectory(prefix="cairn-bench-network-") as tmp:
        data = Path(tmp) / "data"
        port = free_port()
        process = await asyncio.to_thread(start, data, port)
        try:
            await run(args, f"http://127.0.0.1:{port}", data)
        finally:
            process.terminate()
            await asyncio.to_thread(process.wait, 60)
            from cairn.agents.network.datapath import Datapath

            async with Datapath(data / "network") as datapath:
                await datapath.teardown()


async def run(args: argparse.Namespace, base: str, data: Path) -> None:
    clouds = yaml.safe_load((data / "clouds.yaml").read_text())["clouds"]
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        admin = Api(session, base, await login(session, base, clouds["cairn-admin"]))
        demo = Api(session, base, await login(session, base, clouds["cairn-demo"]))
        project = clouds["cairn-demo"]["auth"]["project_name"]
        projects = await admin.call("GET", f"/identity/v3/projects?name={project}")
        project_id = projects["projects"][0]["id"]
        await admin.call("PUT", f"/networking/v2.0/quotas/{project_id}", {"quota": {"port": -1}})
        network = (
            await demo.call("POST", "/networking/v2.0/networks", {"network": {"name": "bench"}})
        )["network"]
        await demo.call(
            "POST",
            "/networking/v2.0/subnets",
            {"subnet": {"network_id": network["id"], "cidr": "10.80.0.0/20", "ip_version": 4}},
        )
        await port_creates(demo, network["id"], args.ports, args.clients)
        hosts = (await admin.call("GET", "/compute/v2.1/os-hypervisors"))["hypervisors"]
        await wired(admin, network["id"], hosts[0]["hypervisor_hostname"], args.wired)
        if args.guests:
            images = (await demo.call("GET", "/image/v2/images?name=cairn-guest"))["images"]
            flavors = (await demo.call("GET", "/compute/v2.1/flavors"))["flavors"]
            nano = next(f["id"] for f in flavors if f["name"] == "m1.nano")
            guest_net = (
                await demo.call(
                    "POST", "/networking/v2.0/networks", {"network": {"name": "guests"}}
                )
            )["network"]
            subnet = (
                await demo.call(
                    "POST",
                    "/networking/v2.0/subnets",
                    {
                        "subnet": {
                            "network_id": guest_net["id"],
                            "cidr": "10.81.0.0/24",
                            "ip_version": 4,
                        }
                    },
                )
            )["subnet"]
            public = await demo.call("GET", "/networking/v2.0/networks?router:external=true")
            router = (
                await demo.call(
                    "POST",
                    "/networking/v2.0/routers",
                    {
                        "router": {
                            "name": "bench",
                            "external_gateway_info": {"network_id": public["networks"][0]["id"]},
                        }
                    },
                )
            )["router"]
            await demo.call(
                "PUT",
                f"/networking/v2.0/routers/{router['id']}/add_router_interface",
                {"subnet_id": subnet["id"]},
            )
            groups = await demo.call("GET", "/networking/v2.0/security-groups?name=default")
            await demo.call(
                "POST",
                "/networking/v2.0/security-group-rules",
                {
                    "security_group_rule": {
                        "security_group_id": groups["security_groups"][0]["id"],
                        "direction": "ingress",
                        "protocol": "icmp",
                    }
                },
            )
            servers = await guests(demo, guest_net["id"], images[0]["id"], nano, args.guests)
            await floating(demo, public["networks"][0]["id"], servers[0])
            for server_id in servers:
                await demo.call("DELETE", f"/compute/v2.1/servers/{server_id}", ok=False)
            for server_id in servers:
                for _ in range(300):
                    found = await demo.call("GET", f"/compute/v2.1/servers/{server_id}", ok=False)
                    if not found or "server" not in found:
                        break
                    await asyncio.sleep(0.2)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.network",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--ports", type=int, default=2000, help="ports created (default 2000)")
    parser.add_argument("--clients", type=int, default=32, help="concurrent clients (default 32)")
    parser.add_argument("--wired", type=int, default=20, help="ports timed to ACTIVE (default 20)")
    parser.add_argument("--guests", type=int, default=5, help="real guests (default 5; 0: none)")
    return parser.parse_args(argv)


if __name__ == "__main__":
    uvloop.run(main(parse()))
