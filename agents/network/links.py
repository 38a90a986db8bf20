"""Devices, addresses, routes and FDB entries through netlink (pyroute2).

pyroute2's calls block, and an ``IPRoute`` socket belongs to the namespace it
was opened in. So one worker thread (:class:`Netlink`) makes every call: it
opens one ``IPRoute`` per namespace the first time it is needed (entering the
namespace only for the ``socket()`` call, see
:func:`cairn.agents.network.namespaces.entered`) and keeps it, so a re-apply
costs a few dumps and no fork. A handle pins its namespace (the kernel keeps a
namespace alive while a socket is bound to it), so :meth:`Netlink.forget` must
close it before the namespace is deleted, or the namespace's veths outlive it.

The functions below are the thread's side: each takes a handle, looks at what
exists and changes only what differs from what is asked, so calling one twice
does nothing the second time. pyroute2's errors become
:class:`~cairn.agents.network.errors.NetlinkError` naming the device and the
namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import socket
import struct
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from pyroute2 import IPRoute
from pyroute2.netlink.exceptions import NetlinkError as PyrouteNetlinkError
from pyroute2.nftables.main import NFTables

from cairn.agents.network import namespaces
from cairn.agents.network.desired import VxlanSpec
from cairn.agents.network.errors import NetlinkError

T = TypeVar("T")
_IFF_UP = 1
_AF_INET = 2
_AF_BRIDGE = 7
_MAIN_TABLE = 254
ZERO_MAC = "00:00:00:00:00:00"


@dataclass(frozen=True)
class Link:
    """What the datapath needs to know of one device."""

    index: int
    name: str
    kind: str | None  #: ``bridge``, ``veth``, ``vxlan``... (None: a physical device)
    master: int | None  #: index of the bridge it is a port of
    mtu: int
    up: bool
    mac: str | None
    vxlan: tuple[int, str | None, int, int | None] | None  #: (vni, local, port, underlay)


class Netlink:
    """The datapath's netlink worker: one thread, one cached handle per namespace."""

    def __init__(self) -> None:
        self._executor = ThreadPoolExecutor(1, thread_name_prefix="cairn-netlink")
        self._handles: dict[str | None, IPRoute] = {}
        self._nft: dict[str | None, NFTables] = {}
        self._identities: dict[str, tuple[int, int]] = {}

    async def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(*args)`` on the worker thread. A cancelled caller still waits
        for the call to end, so nothing acts on the host behind its back."""
        future = asyncio.get_running_loop().run_in_executor(self._executor, fn, *args)
        try:
            return await asyncio.shield(future)
        except asyncio.CancelledError:
            with contextlib.suppress(Exception):
                await future
            raise

    def handle(self, namespace: str | None) -> IPRoute:
        """(worker thread) The handle of a namespace, opened inside it on first use
        (and again when the namespace was replaced by another of the same name)."""
        self._check_identity(namespace)
        handle = self._handles.get(namespace)
        if handle is None:
            with namespaces.entered(namespace):
                handle = IPRoute()
            self._handles[namespace] = handle
        return handle

    def nft_handle(self, namespace: str | None) -> NFTables:
        """(worker thread) The namespace's nftables handle (every family)."""
        self._check_identity(namespace)
        handle = self._nft.get(namespace)
        if handle is None:
            with namespaces.entered(namespace):
                handle = NFTables(nfgen_family=0)
            self._nft[namespace] = handle
        return handle

    def _check_identity(self, namespace: str | None) -> None:
        if namespace is None:
            return
        try:
            st = os.stat(namespaces.path(namespace))
            identity = (st.st_dev, st.st_ino)
        except FileNotFoundError:
            identity = None
        if self._identities.get(namespace) != identity:
            self.forget(namespace)  # a handle would keep acting on the old one
            if identity is not None:
                self._identities[namespace] = identity

    def forget(self, namespace: str | None) -> None:
        """(worker thread) Close the namespace's handles, so the namespace can go."""
        if namespace is not None:
            self._identities.pop(namespace, None)
        for handles in (self._handles, self._nft):
            handle = handles.pop(namespace, None)
            if handle is not None:
                handle.close()

    def forget_all(self) -> None:
        """(worker thread) Close every handle."""
        for namespace in {*self._handles, *self._nft}:
            self.forget(namespace)

    async def close(self) -> None:
        await self.call(self.forget_all)
        self._executor.shutdown(wait=True)


@contextlib.contextmanager
def doing(namespace: str | None, what: str) -> Iterator[None]:
    """Translate pyroute2's errors raised by the body into :class:`NetlinkError`."""
    try:
        yield
    except PyrouteNetlinkError as e:
        raise NetlinkError(namespace, what, f"{e.args[-1]} (errno {e.code})") from e
    except OSError as e:
        raise NetlinkError(namespace, what, str(e)) from e


@dataclass
class Ns:
    """A namespace as the worker thread acts on it: its handle, its name (None:
    the process's own), and the list every change made is noted in."""

    ipr: IPRoute
    name: str | None
    changes: list[str]

    @contextlib.contextmanager
    def change(self, what: str) -> Iterator[None]:
        """A change to make: noted, and its errors translated."""
        self.changes.append(f"{self.name or 'root'}: {what}")
        with doing(self.name, what):
            yield


def links(ns: Ns) -> dict[str, Link]:
    """Every device of the namespace, by name."""
    found = {}
    with doing(ns.name, "listing devices"):
        messages = ns.ipr.get_links()
    for msg in messages:
        info = msg.get_attr("IFLA_LINKINFO")
        kind = info.get_attr("IFLA_INFO_KIND") if info is not None else None
        vxlan = None
        if kind == "vxlan":
            data = info.get_attr("IFLA_INFO_DATA")
            vxlan = (
                data.get_attr("IFLA_VXLAN_ID"),
                data.get_attr("IFLA_VXLAN_LOCAL"),
                data.get_attr("IFLA_VXLAN_PORT"),
                data.get_attr("IFLA_VXLAN_LINK"),
            )
        name = msg.get_attr("IFLA_IFNAME")
        found[name] = Link(
            index=msg["index"],
            name=name,
            kind=kind,
            master=msg.get_attr("IFLA_MASTER"),
            mtu=msg.get_attr("IFLA_MTU"),
            up=bool(msg["flags"] & _IFF_UP),
            mac=msg.get_attr("IFLA_ADDRESS"),
            vxlan=vxlan,
        )
    return found


def delete(ns: Ns, name: str) -> None:
    """Remove a device; one that is gone already is fine."""
    try:
        with ns.change(f"delete {name}"):
            ns.ipr.link("del", ifname=name)
    except NetlinkError as e:
        cause = e.__cause__
        if not isinstance(cause, PyrouteNetlinkError) or cause.code not in (
            errno.ENODEV,
            errno.ENOENT,
        ):
            raise
        ns.changes.pop()  # it was not there: nothing changed


def _settle(
    ns: Ns,
    link: Link,
    *,
    mtu: int | None = None,
    mac: str | None = None,
    master: int | None = None,
) -> None:
    """Bring a device's MTU, MAC, bridge and state to what is asked (up)."""
    change: dict[str, Any] = {}
    if mtu is not None and link.mtu != mtu:
        change["mtu"] = mtu
    if mac is not None and (link.mac or "").lower() != mac.lower():
        change["address"] = mac
    if master is not None and link.master != master:
        change["master"] = master
    if change:
        with ns.change(f"set {', '.join(sorted(change))} of {link.name}"):
            ns.ipr.link("set", index=link.index, **change)
    if not link.up:
        with ns.change(f"bring {link.name} up"):
            ns.ipr.link("set", index=link.index, state="up")


def _fresh(ns: Ns, name: str) -> Link:
    """A device just made, read back (creation is rare: a full dump is fine)."""
    link = links(ns).get(name)
    if link is None:
        raise NetlinkError(ns.name, f"looking up {name}", "the device vanished")
    return link


def ensure_bridge(ns: Ns, existing: dict[str, Link], name: str, mtu: int) -> Link:
    """A bridge named ``name``: no STP, no forwarding delay, and bridged IP
    traffic handed to the IP hooks (the stateful half of security groups)."""
    link = existing.get(name)
    if link is not None and link.kind != "bridge":
        delete(ns, name)
        link = None
    if link is None:
        with ns.change(f"create bridge {name}"):
            ns.ipr.link(
                "add",
                ifname=name,
                kind="bridge",
                br_stp_state=0,
                br_forward_delay=0,
                br_nf_call_iptables=1,
                br_nf_call_ip6tables=1,
                mtu=mtu,
            )
        link = _fresh(ns, name)
    _settle(ns, link, mtu=mtu)
    return link


def ensure_vxlan(
    ns: Ns, existing: dict[str, Link], name: str, spec: VxlanSpec, mtu: int, bridge: Link
) -> Link:
    """A VXLAN device for ``spec`` in ``bridge``; one with other tunnel parameters
    is replaced (the kernel cannot change them in place)."""
    underlay = None
    if spec.underlay is not None:
        lower = existing.get(spec.underlay)
        if lower is None:
            raise NetlinkError(ns.name, f"creating {name}", f"no device {spec.underlay!r}")
        underlay = lower.index
    wanted = (spec.vni, spec.local_ip, spec.port, underlay)
    link = existing.get(name)
    if link is not None and (link.kind != "vxlan" or link.vxlan != wanted):
        delete(ns, name)
        link = None
    if link is None:
        args: dict[str, Any] = {
            "vxlan_id": spec.vni,
            "vxlan_local": spec.local_ip,
            "vxlan_port": spec.port,
            "vxlan_learning": 1,
        }
        if underlay is not None:
            args["vxlan_link"] = underlay
        with ns.change(f"create vxlan {name}"):
            ns.ipr.link("add", ifname=name, kind="vxlan", mtu=mtu, **args)
        link = _fresh(ns, name)
    _settle(ns, link, mtu=mtu, master=bridge.index)
    return link


def sync_flood_list(ns: Ns, link: Link, remotes: set[str]) -> None:
    """Head-end replication: one all-zero FDB entry per remote, no others."""
    with doing(ns.name, f"listing the FDB of {link.name}"):
        entries = ns.ipr.fdb("dump", ifindex=link.index)
    present = {
        e.get_attr("NDA_DST")
        for e in entries
        if e["ifindex"] == link.index and e.get_attr("NDA_LLADDR") == ZERO_MAC
    }
    for remote in sorted(remotes - present):
        with ns.change(f"add flood entry {remote} to {link.name}"):
            ns.ipr.fdb("append", ifindex=link.index, lladdr=ZERO_MAC, dst=remote)
    for remote in sorted(r for r in present - remotes if r is not None):
        with ns.change(f"remove flood entry {remote} from {link.name}"):
            ns.ipr.fdb("del", ifindex=link.index, lladdr=ZERO_MAC, dst=remote)


def ensure_port_of(ns: Ns, existing: dict[str, Link], name: str, bridge: Link) -> None:
    """Enslave a device Cairn does not own (a flat network's uplink) to a bridge."""
    link = existing.get(name)
    if link is None:
        raise NetlinkError(ns.name, f"enslaving {name} to {bridge.name}", "no such device")
    _settle(ns, link, master=bridge.index)


def ensure_veth(
    root: Ns,
    root_links: dict[str, Link],
    leg: str,
    inner: Ns,
    inner_links: dict[str, Link],
    device: str,
    *,
    mtu: int,
    mac: str | None,
    bridge: Link,
) -> Link:
    """A veth from ``bridge`` (end ``leg``) into the inner namespace (end
    ``device``, with ``mac``); a half-made or mismatched pair is remade.
    Returns the inner end."""
    assert inner.name is not None
    outer = root_links.get(leg)
    peer = inner_links.get(device)
    if outer is None or peer is None or outer.kind != "veth" or peer.kind != "veth":
        if outer is not None:
            delete(root, leg)
        if peer is not None:
            delete(inner, device)
        with root.change(f"create veth {leg} into {inner.name} as {device}"):
            root.ipr.link(
                "add",
                ifname=leg,
                kind="veth",
                mtu=mtu,
                peer={"ifname": device, "net_ns_fd": namespaces.path(inner.name)},
            )
        outer = _fresh(root, leg)
        peer = _fresh(inner, device)
    _settle(root, outer, mtu=mtu, master=bridge.index)
    _settle(inner, peer, mtu=mtu, mac=mac)
    return peer


def addresses(ns: Ns) -> dict[int, set[str]]:
    """Every IPv4 address and global IPv6 address of the namespace (``addr/len``),
    by device index; IPv6 link-local addresses are the kernel's and left out. One
    dump, instead of one per device (pyroute2 filters a dump by index in Python)."""
    with doing(ns.name, "listing addresses"):
        msgs = ns.ipr.get_addr()
    found: dict[int, set[str]] = {}
    for m in msgs:
        address = m.get_attr("IFA_ADDRESS")
        if address is None or address.lower().startswith("fe80:"):
            continue
        found.setdefault(m["index"], set()).add(f"{address}/{m['prefixlen']}")
    return found


def sync_addresses(
    ns: Ns, link: Link, wanted: set[str], present: dict[int, set[str]] | None = None
) -> None:
    """Exactly the addresses ``wanted`` (``addr/len``, IPv4 or global IPv6) on ``link``
    (``present``: the namespace's :func:`addresses`, when already listed)."""
    on_link = (addresses(ns) if present is None else present).get(link.index, set())
    for cidr in sorted(on_link - wanted):
        address, _, length = cidr.partition("/")
        with ns.change(f"remove {cidr} from {link.name}"):
            ns.ipr.addr("del", index=link.index, address=address, prefixlen=int(length))
    for cidr in sorted(wanted - on_link):
        address, _, length = cidr.partition("/")
        with ns.change(f"add {cidr} to {link.name}"):
            ns.ipr.addr("add", index=link.index, address=address, prefixlen=int(length))


def sync_routes(ns: Ns, wanted: dict[str, str]) -> None:
    """Exactly the gatewayed IPv4 routes ``wanted`` (destination cidr -> nexthop)
    in the main table; connected routes (no gateway) are the kernel's and stay."""
    with doing(ns.name, "listing routes"):
        msgs = ns.ipr.get_routes(family=_AF_INET, table=_MAIN_TABLE)
    present = {}
    for m in msgs:
        gateway = m.get_attr("RTA_GATEWAY")
        if gateway is None:
            continue
        present[f"{m.get_attr('RTA_DST') or '0.0.0.0'}/{m['dst_len']}"] = gateway
    for dst, gateway in present.items():
        if wanted.get(dst) != gateway:
            with ns.change(f"remove route {dst} via {gateway}"):
                ns.ipr.route("del", dst=dst, gateway=gateway, table=_MAIN_TABLE)
    for dst, gateway in wanted.items():
        if present.get(dst) != gateway:
            with ns.change(f"add route {dst} via {gateway}"):
                ns.ipr.route("replace", dst=dst, gateway=gateway, table=_MAIN_TABLE)


def sysctl(ns: Ns, key: str, value: str) -> None:
    """Set a ``net.*`` sysctl of a namespace (``/proc/sys/net`` answers for the
    namespace of the thread that opens it), writing only when it differs."""
    file = "/proc/sys/" + key.replace(".", "/")
    with namespaces.entered(ns.name), doing(ns.name, f"reading {key}"), open(file) as f:
        if f.read().strip() == value:
            return
    with namespaces.entered(ns.name), ns.change(f"set {key}={value}"), open(file, "w") as f:
        f.write(value)


def announce(ns: Ns, device: str, address: str, mac: str) -> None:
    """Send a gratuitous ARP for ``address`` (held by ``device``, whose MAC is
    ``mac``) from inside the namespace, as Neutron's L3 agent does for a new
    floating IP: neighbours that asked for it before it existed (and gave up)
    learn it now instead of after their next retry (a second, on Linux)."""
    hw = bytes.fromhex(mac.replace(":", ""))
    ip = socket.inet_aton(address)
    broadcast = b"\xff" * 6
    arp = struct.pack("!HHBBH", 1, 0x0800, 6, 4, 1) + hw + ip + broadcast + ip
    frame = broadcast + hw + struct.pack("!H", 0x0806) + arp
    with (
        namespaces.entered(ns.name),
        doing(ns.name, f"announcing {address} on {device}"),
        socket.socket(socket.AF_PACKET, socket.SOCK_RAW) as sock,
    ):
        sock.bind((device, 0))
        sock.send(frame)
