"""A lab of network namespaces for datapath tests: hosts, guests, and what they run.

Every namespace a test makes is named with the lab's unique prefix (so parallel
runs never collide) and removed at the end, processes inside killed first.
A "host" is a namespace a :class:`Datapath` works in (``netns=``), so its
bridges, nftables tables and taps never touch the machine's own namespace; a
"guest" is a namespace with one veth whose other end sits in the host named
like a tap, enslaved to the network's bridge as libvirt would, with the port's
MAC. Traffic only ever goes between namespaces of the lab.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shlex
import signal
import socket
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

from cairn.agents.network import namespaces


@dataclass
class Result:
    rc: int
    out: str
    err: str


async def sh(namespace: str | None, *argv: str, timeout: float = 30) -> Result:
    """Run a command inside a namespace (None: here) and capture what it says."""
    full = list(argv) if namespace is None else ["nsenter", f"--net=/run/netns/{namespace}", *argv]
    proc = await asyncio.create_subprocess_exec(
        *full,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        out, err = await asyncio.wait_for(proc.communicate(), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise AssertionError(f"{shlex.join(full)} still ran after {timeout} s") from None
    assert proc.returncode is not None
    return Result(proc.returncode, out.decode(errors="replace"), err.decode(errors="replace"))


async def check(namespace: str | None, *argv: str) -> str:
    result = await sh(namespace, *argv)
    assert result.rc == 0, f"{shlex.join(argv)} in {namespace}: {result.err or result.out}"
    return result.out


@dataclass
class Guest:
    """A simulated VM: a namespace with ``eth0``, plugged into a host's bridge."""

    namespace: str
    mac: str
    tap: str

    async def ping(self, ip: str, *, count: int = 1, wait: int = 1) -> bool:
        result = await sh(self.namespace, "busybox", "ping", "-c", str(count), "-W", str(wait), ip)
        return result.rc == 0

    async def sees(self, ip: str, tries: int = 3) -> bool:
        """Pings until one answers (the first packets may wait for ARP)."""
        for _ in range(tries):
            if await self.ping(ip):
                return True
        return False

    async def udhcpc(self, script_dir: Path, *, tries: int = 3) -> dict[str, str] | None:
        """Ask DHCP for a lease with busybox's client; what its script saw on
        ``bound`` (None: no lease)."""
        out = script_dir / f"{self.namespace}.env"
        script = script_dir / f"{self.namespace}.sh"
        script.write_text(f'#!/bin/sh\n[ "$1" = bound ] && env > {out}\nexit 0\n')
        script.chmod(0o755)
        result = await sh(
            self.namespace,
            "busybox", "udhcpc", "-i", "eth0", "-f", "-q", "-n",
            "-t", str(tries), "-T", "1", "-A", "1",
            "-O", "mtu", "-O", "staticroutes", "-O", "hostname",
            "-s", str(script),
        )  # fmt: skip
        if result.rc != 0 or not out.exists():
            return None
        env = {}
        for line in out.read_text().splitlines():
            key, _, value = line.partition("=")
            env[key] = value
        return env


class Lab:
    """The namespaces of one test (see the module docstring)."""

    def __init__(self) -> None:
        self.prefix = f"ct{uuid.uuid4().hex[:6]}-"
        self.made: list[str] = []

    async def namespace(self, name: str) -> str:
        full = self.prefix + name
        await check(None, "ip", "netns", "add", full)
        self.made.append(full)
        await check(full, "ip", "link", "set", "lo", "up")
        return full

    async def guest(
        self,
        host: str,
        name: str,
        *,
        tap: str,
        mac: str,
        bridge: str | None,
        address: str | None = None,
        gateway: str | None = None,
        mtu: int | None = None,
    ) -> Guest:
        """A guest whose eth0 is ``address`` (cidr, or None to ask DHCP later);
        its tap is enslaved to ``bridge`` at once (None: the test does it)."""
        namespace = await self.namespace(name)
        await check(
            namespace, "ip", "link", "add", "eth0", "address", mac, "type", "veth",
            "peer", "name", tap, "netns", f"/run/netns/{host}",
        )  # fmt: skip
        if mtu is not None:
            await check(namespace, "ip", "link", "set", "eth0", "mtu", str(mtu))
            await check(host, "ip", "link", "set", tap, "mtu", str(mtu))
        await check(namespace, "ip", "link", "set", "eth0", "up")
        if address is not None:
            await check(namespace, "ip", "addr", "add", address, "dev", "eth0")
        if gateway is not None:
            await check(namespace, "ip", "route", "add", "default", "via", gateway)
        if bridge is not None:
            await plug(host, tap, bridge)
        else:
            await check(host, "ip", "link", "set", tap, "up")
        return Guest(namespace, mac, tap)

    async def cleanup(self) -> None:
        for namespace in reversed(self.made):
            await asyncio.to_thread(_kill_all, namespace)
            await sh(None, "ip", "netns", "delete", namespace)
        self.made.clear()

    def leftovers(self) -> list[str]:
        return sorted(n for n in namespaces.names() if n.startswith(self.prefix))


async def plug(host: str, tap: str, bridge: str) -> None:
    """What libvirt does with a tap: into the bridge, up."""
    await check(host, "ip", "link", "set", tap, "master", bridge, "up")


def _kill_all(namespace: str) -> None:
    for pid in namespaces.pids_in(namespace):
        if pid != os.getpid():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


def dnsmasq_under(state_dir: Path) -> list[int]:
    """dnsmasq processes whose command line names a file under ``state_dir``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes().decode(errors="replace")
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        if stat.rpartition(")")[2].split()[0] == "Z":
            continue
        if "dnsmasq" in cmdline.split("\0")[0] and str(state_dir) in cmdline:
            found.append(int(entry))
    return found


# -- TCP from inside namespaces, without a helper process ------------------------------


def _socket_in(namespace: str) -> socket.socket:
    with namespaces.entered(namespace):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    return sock


@contextlib.asynccontextmanager
async def listening(namespace: str, port: int) -> AsyncIterator[list[str]]:
    """A TCP server in a namespace that greets with ``hello`` and records each
    peer's address (the list it yields)."""
    peers: list[str] = []
    sock = await asyncio.to_thread(_socket_in, namespace)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("0.0.0.0", port))
    sock.listen(8)

    async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        peers.append(writer.get_extra_info("peername")[0])
        writer.write(b"hello\n")
        await writer.drain()
        writer.close()
        await writer.wait_closed()

    server = await asyncio.start_server(greet, sock=sock)
    try:
        yield peers
    finally:
        server.close()
        await server.wait_closed()


async def connect(namespace: str, ip: str, port: int, timeout: float = 3) -> bytes | None:
    """Connect from a namespace and read what the server says (None: no answer)."""
    sock = await asyncio.to_thread(_socket_in, namespace)
    try:
        await asyncio.wait_for(asyncio.get_running_loop().sock_connect(sock, (ip, port)), timeout)
        reader, writer = await asyncio.open_connection(sock=sock)
        data = await asyncio.wait_for(reader.readline(), timeout)
        writer.close()
        await writer.wait_closed()
        return data
    except (TimeoutError, OSError):
        sock.close()
        return None
