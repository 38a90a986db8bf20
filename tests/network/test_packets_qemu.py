"""Real packets between real guests: ``cairn up`` on QEMU with its network agent,
driven by the real ``openstack`` CLI as a first user would.

Two networks joined by a router to the external network ``public``; three
guests with fixed addresses, each told by its user data (which it fetches
from the metadata service) whom to ping. They get their leases by DHCP, print
their user data, reach each other on one network and across the router; a
floating IP reaches a guest from the external namespace ``cairn-public`` while
its fixed address does not; removing the ICMP rule stops that ping. Afterwards
nothing of the datapath is left on the machine.
"""

from __future__ import annotations

import asyncio
import subprocess
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from cairn.agents.network.datapath import Datapath
from tests.cloud_process import Running, build_guest, cairn_up

pytestmark = pytest.mark.qemu
BOOT_TIMEOUT = 120.0
#: (name, network, fixed address, the addresses it pings)
GUESTS = (
    ("g1", "left", "10.60.0.10", ("10.60.0.11", "10.61.0.10")),
    ("g2", "left", "10.60.0.11", ("10.60.0.10",)),
    ("g3", "right", "10.61.0.10", ("10.60.0.10",)),
)


def _until(what: str, probe: Callable[[], bool], timeout: float = BOOT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(1.0)


def _leftovers() -> list[str]:
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout
    names = [line.split(":")[1].strip().split("@")[0] for line in links.splitlines()]
    found = [n for n in names if n.startswith(("brq", "dh-", "rt-", "ex-", "vx-"))]
    spaces = subprocess.run(["ip", "netns"], capture_output=True, text=True).stdout.split()
    found += [s for s in spaces if s.startswith(("qdhcp-", "qrouter-", "cairn-public"))]
    return found


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("packets") / "data"
    options = (
        "--hypervisor",
        "qemu:///system",
        "--network-agent",
        "on",
        "--guest-dir",
        str(build_guest()),
    )
    try:
        with cairn_up(data, *options) as (running, _pid):
            yield running
            for name, *_ in GUESTS:
                running.openstack(
                    "server", "delete", "--wait", name, cloud="cairn-demo", check=False
                )
    finally:
        asyncio.run(_teardown(data / "network"))
    assert not _leftovers(), "the datapath's teardown left devices or namespaces behind"


async def _teardown(state_dir: Path) -> None:
    async with Datapath(state_dir) as datapath:
        await datapath.teardown()


def _console(cloud: Running, server: str) -> str:
    return cloud.openstack("console", "log", "show", server, cloud="cairn-demo").stdout


def _external_ping(address: str) -> bool:
    result = subprocess.run(
        ["ip", "netns", "exec", "cairn-public", "busybox", "ping", "-c", "1", "-W", "1", address],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0


def test_guests_get_leases_user_data_and_reach_each_other(cloud: Running) -> None:
    demo = {"cloud": "cairn-demo"}
    for name, cidr in (("left", "10.60.0.0/24"), ("right", "10.61.0.0/24")):
        cloud.openstack("network", "create", name, **demo)
        cloud.openstack(
            "subnet", "create", "--network", name, "--subnet-range", cidr, f"{name}-subnet", **demo
        )
    cloud.openstack("router", "create", "edge", **demo)
    cloud.openstack("router", "set", "--external-gateway", "public", "edge", **demo)
    for name in ("left", "right"):
        cloud.openstack("router", "add", "subnet", "edge", f"{name}-subnet", **demo)
    rule = cloud.json(
        "security",
        "group",
        "rule",
        "create",
        "--protocol",
        "icmp",
        "--remote-ip",
        "0.0.0.0/0",
        "default",
        **demo,
    )
    assert isinstance(rule, dict)
    for name, network, address, targets in GUESTS:
        user_data = cloud.data.parent / f"{name}.txt"
        user_data.write_text(f"hello from {name}\n" + "".join(f"ping {t}\n" for t in targets))
        cloud.openstack(
            "server",
            "create",
            "--image",
            "cairn-guest",
            "--flavor",
            "m1.nano",
            "--nic",
            f"net-id={network},v4-fixed-ip={address}",
            "--user-data",
            str(user_data),
            name,
            **demo,
        )
    for name, _, address, targets in GUESTS:
        _until(
            f"{name}'s lease", lambda n=name, a=address: f"LEASE eth0 ip={a} " in _console(cloud, n)
        )
        _until(
            f"{name}'s user data", lambda n=name: f"USERDATA hello from {n}" in _console(cloud, n)
        )
        for target in targets:
            _until(
                f"{name} pinging {target}",
                lambda n=name, t=target: f"PING {t} ok" in _console(cloud, n),
            )
    ports = cloud.json("port", "list", "--server", "g1", **demo)
    assert isinstance(ports, list)
    assert [p["Status"] for p in ports] == ["ACTIVE"]
    shown = cloud.json("server", "show", "g1", **demo)
    assert isinstance(shown, dict)
    assert shown["addresses"] == {"left": ["10.60.0.10"]}


def test_a_floating_ip_reaches_a_guest_and_the_icmp_rule_decides(cloud: Running) -> None:
    demo = {"cloud": "cairn-demo"}
    made = cloud.json("floating", "ip", "create", "public", **demo)
    assert isinstance(made, dict)
    address = str(made["floating_ip_address"])
    cloud.openstack("server", "add", "floating", "ip", "g1", address, **demo)
    _until("the floating IP to answer from cairn-public", lambda: _external_ping(address), 30)
    assert not _external_ping("10.60.0.10"), "a fixed address is reachable from outside"
    rules = cloud.json("security", "group", "rule", "list", "--protocol", "icmp", "default", **demo)
    assert isinstance(rules, list)
    for rule in rules:
        cloud.openstack("security", "group", "rule", "delete", str(rule["ID"]), **demo)
    _until("the ping to stop", lambda: not _external_ping(address), 30)
    # Guests of one group still reach each other: the default group's own rule.
    before = _console(cloud, "g2").count("PING 10.60.0.10 ok")
    _until(
        "g2 still pinging g1",
        lambda: _console(cloud, "g2").count("PING 10.60.0.10 ok") > before,
        30,
    )


def _dhcp_ping(network_id: str, address: str) -> bool:
    """A ping from the network's DHCP namespace (the test cloud's own)."""
    result = subprocess.run(
        [
            "ip",
            "netns",
            "exec",
            f"qdhcp-{network_id}",
            "busybox",
            "ping",
            "-c",
            "1",
            "-W",
            "1",
            address,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.returncode == 0


def test_an_interface_hot_plugs_into_a_running_guest_and_out_again(cloud: Running) -> None:
    demo = {"cloud": "cairn-demo"}
    right = cloud.json("network", "show", "right", **demo)
    assert isinstance(right, dict)
    # The earlier test removed the ICMP rule: the DHCP namespace is no group member.
    cloud.openstack("security", "group", "rule", "create", "--protocol", "icmp", "default", **demo)
    cloud.openstack("server", "add", "network", "g2", "right", **demo)
    ports = cloud.json("port", "list", "--server", "g2", "--network", "right", **demo)
    assert isinstance(ports, list)
    assert len(ports) == 1
    port = ports[0]
    mac = str(port["MAC Address"])
    address = str(port["Fixed IP Addresses"][0]["ip_address"])
    _until("g2 to see its new NIC", lambda: f"NIC eth1 {mac}" in _console(cloud, "g2"), 60)
    _until(
        "g2's lease on eth1",
        lambda: f"LEASE eth1 ip={address} " in _console(cloud, "g2"),
        60,
    )
    _until("the new address to answer", lambda: _dhcp_ping(str(right["id"]), address), 30)
    shown = cloud.json("server", "show", "g2", **demo)
    assert isinstance(shown, dict)
    assert shown["addresses"] == {"left": ["10.60.0.11"], "right": [address]}
    attached = cloud.json("port", "show", str(port["ID"]), **demo)
    assert isinstance(attached, dict)
    assert attached["status"] == "ACTIVE"

    cloud.openstack("server", "remove", "network", "g2", "right", **demo)
    _until("g2 to lose eth1", lambda: "NIC-GONE eth1" in _console(cloud, "g2"), 60)
    # The attach made the port, so the detach deletes it.
    _until(
        "the port made for the attach to be deleted",
        lambda: (
            cloud.openstack("port", "show", str(port["ID"]), check=False, **demo).returncode != 0
        ),
        30,
    )
    _until("the old address to fall silent", lambda: not _dhcp_ping(str(right["id"]), address), 30)
    shown = cloud.json("server", "show", "g2", **demo)
    assert isinstance(shown, dict)
    assert shown["addresses"] == {"left": ["10.60.0.11"]}
