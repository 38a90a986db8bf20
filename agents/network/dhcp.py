"""dnsmasq, one per network, inside the network's DHCP namespace.

Each network with DHCP has a directory ``<state dir>/dhcp/<network id>/``
holding dnsmasq's pid file, lease file, log, and the two files it re-reads on
SIGHUP: ``hosts`` (``--dhcp-hostsfile``: one fixed lease per port; only MACs
listed there get an answer, since every range is ``static``) and ``opts``
(``--dhcp-optsfile``: per-subnet options, tagged by the subnet's range).

:func:`ensure` compares what runs with what is asked: a dnsmasq whose command
line differs (a subnet added or removed, a lease time changed) is restarted;
one whose files differ is sent SIGHUP, so a change of one network's leases
never restarts another network's dnsmasq; one that matches is left alone. The
pid file alone is not trusted: the process must still exist and be the
dnsmasq started with that pid file (``/proc/<pid>/cmdline``).

Ownership is the directory: a dnsmasq whose pid file lives under the state
directory is Cairn's, and :func:`stop` kills it and removes its leases, pid
file and configuration (dnsmasq keeps its lease file otherwise).

Options sent: 3 (router), 6 (DNS servers), 26 (MTU) and 121 (classless
static routes: the subnet's host routes, 169.254.169.254/32 via the DHCP
server when it serves metadata, and the default route through the gateway,
because a client that receives option 121 ignores option 3, RFC 3442).

dnsmasq runs as root (``--user=root``): it re-reads its files after dropping
privileges, and the state directory may sit under a directory only root can
enter.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
import re
import shutil
import signal
import time
from dataclasses import dataclass
from pathlib import Path

from cairn.agents.network import namespaces
from cairn.agents.network.desired import METADATA_IP, NetworkSpec, SubnetDhcp
from cairn.agents.network.errors import CommandFailed

_STOP_WAIT = 5.0


@dataclass(frozen=True)
class Config:
    """What one network's dnsmasq should be: its command line and its two files."""

    argv: tuple[str, ...]
    hosts: str
    opts: str


def directory(state_dir: Path, network_id: str) -> Path:
    return state_dir / "dhcp" / network_id


def owned(state_dir: Path) -> set[str]:
    """Networks that have a DHCP directory (whether or not dnsmasq still runs)."""
    root = state_dir / "dhcp"
    try:
        return {entry.name for entry in root.iterdir() if entry.is_dir()}
    except FileNotFoundError:
        return set()


def served(network: NetworkSpec) -> list[SubnetDhcp]:
    """The subnets dnsmasq serves (IPv4 only)."""
    return [s for s in network.dhcp if ipaddress.ip_network(s.cidr, strict=False).version == 4]


def _tag(subnet: SubnetDhcp) -> str:
    return f"subnet-{subnet.subnet_id}"


def _hostname(name: str) -> str:
    label = re.sub(r"[^a-z0-9-]", "-", name.lower()).strip("-")[:63]
    return label or "host"


def config(network: NetworkSpec, state_dir: Path, interface: str) -> Config:
    folder = directory(state_dir, network.network_id)
    subnets = served(network)
    argv = [
        "dnsmasq",
        "--conf-file=/dev/null",
        "--no-hosts",
        "--no-resolv",
        "--port=0",
        f"--interface={interface}",
        "--bind-interfaces",
        "--except-interface=lo",
        "--user=root",
        "--group=root",
        f"--pid-file={folder / 'pid'}",
        f"--dhcp-leasefile={folder / 'leases'}",
        f"--dhcp-hostsfile={folder / 'hosts'}",
        f"--dhcp-optsfile={folder / 'opts'}",
        f"--log-facility={folder / 'log'}",
        f"--dhcp-lease-max={max(16, 2 * sum(len(s.leases) for s in subnets))}",
    ]
    for subnet in subnets:
        net = ipaddress.ip_network(subnet.cidr, strict=False)
        argv.append(
            f"--dhcp-range=set:{_tag(subnet)},{net.network_address},static,"
            f"{net.netmask},{subnet.lease_seconds}s"
        )
    hosts = []
    opts = []
    for subnet in subnets:
        tag = _tag(subnet)
        hosts += [
            f"{lease.mac.lower()},{lease.ip},{_hostname(lease.hostname)}" for lease in subnet.leases
        ]
        opts.append(
            f"tag:{tag},option:router" + (f",{subnet.gateway_ip}" if subnet.gateway_ip else "")
        )
        if subnet.dns_nameservers:
            opts.append(f"tag:{tag},option:dns-server," + ",".join(subnet.dns_nameservers))
        opts.append(f"tag:{tag},option:mtu,{subnet.mtu}")
        routes = [f"{dst},{nexthop}" for dst, nexthop in subnet.host_routes]
        if subnet.metadata:
            routes.append(f"{METADATA_IP}/32,{subnet.server_ip}")
        if routes:
            if subnet.gateway_ip:
                routes.append(f"0.0.0.0/0,{subnet.gateway_ip}")
            opts.append(f"tag:{tag},option:classless-static-route," + ",".join(routes))
    return Config(tuple(argv), "".join(f"{h}\n" for h in hosts), "".join(f"{o}\n" for o in opts))


def _write_if_changed(file: Path, text: str) -> bool:
    try:
        if file.read_text() == text:
            return False
    except FileNotFoundError:
        pass
    temporary = file.with_suffix(".tmp")
    temporary.write_text(text)
    temporary.replace(file)  # dnsmasq never reads a half-written file
    return True


def _prepare(folder: Path, wanted: Config, namespace: str) -> tuple[bool, int | None, bool]:
    """(thread) Write the files. Returns whether they changed, the pid of the
    dnsmasq running with exactly the wanted command line in the namespace now
    named ``namespace`` (None: none does), and whether another was killed."""
    folder.mkdir(parents=True, exist_ok=True)
    changed = _write_if_changed(folder / "hosts", wanted.hosts)
    changed = _write_if_changed(folder / "opts", wanted.opts) or changed
    # Every dnsmasq of this directory, not only the pid file's: one that has not
    # written its pid file yet (an agent killed right after starting it) is
    # adopted, not doubled; one left in a deleted namespace goes.
    kept, killed = None, False
    for pid in _owners(folder):
        if kept is None and _cmdline(pid) == list(wanted.argv) and _inside(pid, namespace):
            kept = pid
        else:
            _kill(pid)
            killed = True
    return changed, kept, killed


def _inside(pid: int, namespace: str) -> bool:
    """Whether a process lives in the namespace of that name (not in one that
    was deleted and replaced while the process kept the old one alive)."""
    try:
        mine = os.stat(f"/proc/{pid}/ns/net")
        named = os.stat(namespaces.path(namespace))
    except OSError:
        return False
    return (mine.st_dev, mine.st_ino) == (named.st_dev, named.st_ino)


def _cmdline(pid: int) -> list[str]:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return []
    return [part.decode(errors="replace") for part in raw.split(b"\0") if part]


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"  # a zombie is gone for us


def running(folder: Path) -> int | None:
    """(blocking, cheap) The pid of the dnsmasq that owns this directory, if alive."""
    try:
        pid = int((folder / "pid").read_text().strip())
    except (OSError, ValueError):
        return None
    return pid if _owns(pid, folder) else None


def _owns(pid: int, folder: Path) -> bool:
    cmdline = _cmdline(pid)
    if not _alive(pid) or not cmdline or not cmdline[0].endswith("dnsmasq"):
        return False
    return f"--pid-file={folder / 'pid'}" in cmdline  # else: the pid was reused


def _owners(folder: Path) -> list[int]:
    """(blocking) The live dnsmasq processes of this directory: the pid file's
    first, then any other whose command line names the directory's pid file."""
    found = [pid] if (pid := running(folder)) is not None else []
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) not in found and _owns(int(entry), folder):
            found.append(int(entry))
    return found


def _kill(pid: int) -> None:
    """(thread) SIGTERM, then SIGKILL if it lingers; wait until it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    deadline = _STOP_WAIT
    while _alive(pid) and deadline > 0:
        time.sleep(0.02)
        deadline -= 0.02
    if _alive(pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.02)


async def ensure(
    network: NetworkSpec, state_dir: Path, namespace: str, interface: str
) -> str | None:
    """Make the network's dnsmasq run with its current configuration. Returns
    what was done (``started``, ``restarted``, ``reloaded``), None for nothing."""
    wanted = config(network, state_dir, interface)
    folder = directory(state_dir, network.network_id)
    changed, pid, killed = await asyncio.to_thread(_prepare, folder, wanted, namespace)
    if pid is not None:
        if not changed:
            return None
        os.kill(pid, signal.SIGHUP)  # re-reads --dhcp-hostsfile and --dhcp-optsfile
        return f"reloaded {pid}"
    await namespaces.run(list(wanted.argv), namespace)  # forks; returns once it serves
    pid = await asyncio.to_thread(running, folder)
    if pid is None:
        log = await asyncio.to_thread(_tail, folder / "log")
        raise CommandFailed(list(wanted.argv), namespace, f"dnsmasq did not stay up: {log}")
    return f"{'restarted' if killed else 'started'} {pid}"


def _tail(file: Path) -> str:
    try:
        return file.read_text()[-500:]
    except OSError:
        return "(no log)"


def _remove(folder: Path) -> None:
    for pid in _owners(folder):
        _kill(pid)
    shutil.rmtree(folder, ignore_errors=True)


async def stop(state_dir: Path, network_id: str) -> None:
    """Kill the network's dnsmasq (if any) and remove its leases and files."""
    await asyncio.to_thread(_remove, directory(state_dir, network_id))
