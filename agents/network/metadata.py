"""The metadata service, answered inside each DHCP namespace, in this process.

A guest reaches http://169.254.169.254 through the route DHCP gave it (option
121: 169.254.169.254/32 via its subnet's DHCP server); the DHCP namespace
holds 169.254.169.254/32 on its interface, so the packets end there. For each
such namespace, :class:`MetadataService` opens a listening socket bound to
169.254.169.254:80 *inside* the namespace (a worker thread enters it for the
``socket()``, ``bind()`` and ``listen()`` calls only: a socket stays in the
namespace it was made in) and hands it to aiohttp on the event loop. No proxy
process, no extra daemon: one aiohttp site per namespace.

A request is identified by the namespace it arrived in (which network) and its
peer's source address (which port on it), never by anything the guest sends:
guests cannot claim to be someone else, because the anti-spoofing filter only
lets a guest send from its own addresses. ``lookup(network_id, ip)`` answers
with an :class:`InstanceMetadata`, or None: the caller gets a 404.

Paths follow Nova's metadata service: the OpenStack API (``/openstack``,
``/openstack/<version>/meta_data.json``, ``user_data``, ``network_data.json``,
where every version Nova lists answers with the latest shape) and the
EC2-compatible one (``/latest/meta-data/...``, ``/latest/user-data``). The
documents themselves are :mod:`cairn.agents.compute.instance_metadata`'s, which
the config drive writes too.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import socket
from collections.abc import Awaitable, Callable

from aiohttp import web

from cairn.agents.compute.instance_metadata import (
    EC2_VERSIONS,
    OPENSTACK_VERSIONS,
    InstanceMetadata,
    ec2_tree,
    meta_data,
)
from cairn.agents.network import namespaces
from cairn.agents.network.desired import METADATA_IP
from cairn.agents.network.errors import NamespaceError

#: ``lookup(network_id, source ip)``: who is asking, or None for nobody we know.
Lookup = Callable[[str, str], Awaitable[InstanceMetadata | None]]

_NETWORK = web.AppKey("network_id", str)
_LOOKUP: web.AppKey[Lookup] = web.AppKey("lookup")


def _text(lines: list[str] | str) -> web.Response:
    body = lines if isinstance(lines, str) else "\n".join(lines)
    return web.Response(text=body, content_type="text/plain")


async def _caller(request: web.Request) -> InstanceMetadata:
    peer = request.transport.get_extra_info("peername") if request.transport else None
    if not peer:
        raise web.HTTPNotFound()
    ip = str(peer[0])
    instance: InstanceMetadata | None = await request.app[_LOOKUP](request.app[_NETWORK], ip)
    if instance is None:
        raise web.HTTPNotFound()
    if instance.local_ipv4 is None:
        instance = dataclasses.replace(instance, local_ipv4=ip)
    return instance


async def _versions(request: web.Request) -> web.Response:
    await _caller(request)
    return _text(list(OPENSTACK_VERSIONS))


async def _version(request: web.Request) -> web.Response:
    instance = await _caller(request)
    _known(request)
    items = ["meta_data.json", "network_data.json", "vendor_data.json", "vendor_data2.json"]
    if instance.user_data is not None:
        items.append("user_data")
    return _text(items)


def _known(request: web.Request) -> None:
    if request.match_info["version"] not in OPENSTACK_VERSIONS:
        raise web.HTTPNotFound()


async def _meta_data(request: web.Request) -> web.Response:
    instance = await _caller(request)
    _known(request)
    return web.json_response(meta_data(instance))


async def _network_data(request: web.Request) -> web.Response:
    instance = await _caller(request)
    _known(request)
    data = instance.network_data or {"links": [], "networks": [], "services": []}
    return web.json_response(data)


async def _vendor_data(request: web.Request) -> web.Response:
    await _caller(request)
    _known(request)
    return web.json_response({})


async def _user_data(request: web.Request) -> web.Response:
    instance = await _caller(request)
    if "version" in request.match_info:
        _known(request)
    if instance.user_data is None:
        raise web.HTTPNotFound()
    return web.Response(body=instance.user_data, content_type="application/octet-stream")


# -- EC2 -------------------------------------------------------------------------------


async def _ec2_versions(request: web.Request) -> web.Response:
    await _caller(request)
    return _text(list(EC2_VERSIONS))


async def _ec2_meta_data(request: web.Request) -> web.Response:
    instance = await _caller(request)
    node: object = ec2_tree(instance)
    for part in [p for p in request.match_info.get("path", "").split("/") if p]:
        if not isinstance(node, dict):
            raise web.HTTPNotFound()
        # public-keys/0 reaches the entry listed as "0=name"
        match = next((k for k in node if k == part or k.split("=", 1)[0] == part), None)
        if match is None:
            raise web.HTTPNotFound()
        node = node[match]
    if isinstance(node, dict):
        return _text(
            [f"{k}/" if isinstance(v, dict) and "=" not in k else k for k, v in node.items()]
        )
    return _text(str(node))


def application(network_id: str, lookup: Lookup) -> web.Application:
    """The metadata application of one network."""
    app = web.Application()
    app[_NETWORK] = network_id
    app[_LOOKUP] = lookup
    app.router.add_get("/openstack", _versions)
    app.router.add_get("/openstack/", _versions)
    app.router.add_get("/openstack/{version}", _version)
    app.router.add_get("/openstack/{version}/", _version)
    app.router.add_get("/openstack/{version}/meta_data.json", _meta_data)
    app.router.add_get("/openstack/{version}/network_data.json", _network_data)
    app.router.add_get("/openstack/{version}/vendor_data.json", _vendor_data)
    app.router.add_get("/openstack/{version}/vendor_data2.json", _vendor_data)
    app.router.add_get("/openstack/{version}/user_data", _user_data)
    app.router.add_get("/", _ec2_versions)
    for version in EC2_VERSIONS:
        app.router.add_get(f"/{version}/meta-data", _ec2_meta_data)
        app.router.add_get(f"/{version}/meta-data/{{path:.*}}", _ec2_meta_data)
        app.router.add_get(f"/{version}/user-data", _user_data)
    return app


# -- serving ---------------------------------------------------------------------------


def _listen(namespace: str, port: int) -> tuple[socket.socket, tuple[int, int]]:
    """(thread) A listening socket on 169.254.169.254:port inside the namespace,
    and the namespace's identity (device, inode) to notice it being replaced."""
    with namespaces.entered(namespace):
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind((METADATA_IP, port))
            sock.listen(128)
        except OSError as e:
            sock.close()
            raise NamespaceError(
                namespace, f"metadata listener on {METADATA_IP}:{port}: {e}"
            ) from e
        sock.setblocking(False)
    st = os.stat(namespaces.path(namespace))
    return sock, (st.st_dev, st.st_ino)


def identity(namespace: str) -> tuple[int, int] | None:
    try:
        st = os.stat(namespaces.path(namespace))
    except FileNotFoundError:
        return None
    return (st.st_dev, st.st_ino)


@dataclasses.dataclass
class _Site:
    runner: web.AppRunner
    namespace: str
    identity: tuple[int, int]


class MetadataService:
    """The metadata sites of one datapath, one per DHCP namespace serving metadata."""

    def __init__(self, lookup: Lookup, *, port: int = 80) -> None:
        self._lookup = lookup
        self._port = port
        self._sites: dict[str, _Site] = {}

    def serving(self) -> set[str]:
        return set(self._sites)

    async def serve(self, network_id: str, namespace: str) -> bool:
        """Answer metadata in the network's namespace (again, if the namespace
        was replaced since); True when a listener was (re)made."""
        site = self._sites.get(network_id)
        if site is not None:
            current = await asyncio.to_thread(identity, namespace)
            if site.namespace == namespace and site.identity == current:
                return False
            await self.stop(network_id)
        sock, ident = await asyncio.to_thread(_listen, namespace, self._port)
        runner = web.AppRunner(application(network_id, self._lookup), access_log=None)
        try:
            await runner.setup()
            await web.SockSite(runner, sock).start()
        except BaseException:
            await runner.cleanup()
            sock.close()
            raise
        self._sites[network_id] = _Site(runner, namespace, ident)
        return True

    async def stop(self, network_id: str) -> None:
        """Stop answering in a network's namespace (and let go of the namespace)."""
        site = self._sites.pop(network_id, None)
        if site is not None:
            with contextlib.suppress(Exception):
                await site.runner.cleanup()

    async def close(self) -> None:
        for network_id in list(self._sites):
            await self.stop(network_id)
