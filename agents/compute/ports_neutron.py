"""The port binder on the networking service's Neutron v2.0 HTTP API.

``PUT {network endpoint}/v2.0/ports/{id}`` with ``binding:host_id`` binds a
port (as the cloud's admin: binding is an admin's attribute), and
``GET .../v2.0/networks/{id}`` and ``.../subnets/{id}`` describe its network
and addresses (the config drive's ``network_data.json``). The endpoint is the
``network`` entry of the token's catalog; a 401 renews the token once, and a
5xx or a connection failure is retried briefly, as the image source does.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import aiohttp

from cairn.agents.compute.instance_metadata import FixedAddress
from cairn.agents.compute.keystone_auth import AgentSession, CloudsYamlAuth, PasswordAuth
from cairn.agents.compute.nics import BoundPort, PortError, PortGone


class NeutronPorts(AgentSession):
    def __init__(
        self, auth: PasswordAuth | CloudsYamlAuth, *, retry_for: float = 30.0, timeout: float = 30.0
    ) -> None:
        self.auth = auth
        self._retry_for = retry_for
        super().__init__(timeout)

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        session = self._client()
        deadline = time.monotonic() + self._retry_for
        delay, renewed = 0.2, False
        while True:
            try:
                token = await self.auth.token(session)
                base = token.endpoint("network")
                if base is None:
                    raise PortError("the service catalog has no network endpoint")
                async with session.request(
                    method,
                    f"{base.rstrip('/')}/v2.0{path}",
                    json=body,
                    headers={"X-Auth-Token": token.value},
                ) as response:
                    if response.status == 401 and not renewed:
                        self.auth.invalidate()
                        renewed = True
                        continue
                    if response.status < 300:
                        return await response.json()
                    text = (await response.text())[:300]
                    if response.status == 404:
                        raise PortGone(f"the networking service answered 404: {text}")
                    if response.status < 500:
                        raise PortError(
                            f"the networking service answered {response.status}: {text}"
                        )
                    failure = PortError(f"the networking service answered {response.status}")
            except aiohttp.ClientError as exc:
                failure = PortError(f"the networking service: {exc}")
            if time.monotonic() + delay > deadline:
                raise failure
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def unbind(self, port_id: str) -> None:
        path = f"/ports/{quote(port_id, safe='')}"
        try:
            await self._call("PUT", path, {"port": {"binding:host_id": ""}})
        except PortGone:
            return

    async def bind(self, port_id: str, host: str) -> BoundPort:
        path = f"/ports/{quote(port_id, safe='')}"
        port = (await self._call("PUT", path, {"port": {"binding:host_id": host}}))["port"]
        network = (await self._call("GET", f"/networks/{quote(port['network_id'], safe='')}"))[
            "network"
        ]
        addressing = []
        for fixed in port.get("fixed_ips") or []:
            subnet = (await self._call("GET", f"/subnets/{quote(fixed['subnet_id'], safe='')}"))[
                "subnet"
            ]
            addressing.append(
                FixedAddress(
                    ip_address=fixed["ip_address"],
                    network_id=port["network_id"],
                    ip_version=subnet["ip_version"],
                    cidr=subnet["cidr"],
                    gateway_ip=subnet.get("gateway_ip"),
                    enable_dhcp=bool(subnet.get("enable_dhcp")),
                    dns_nameservers=tuple(subnet.get("dns_nameservers") or ()),
                )
            )
        return BoundPort(
            port_id=port["id"],
            network_id=port["network_id"],
            network_name=network.get("name") or port["network_id"],
            mac=port["mac_address"],
            fixed_ips=tuple(f["ip_address"] for f in port.get("fixed_ips") or []),
            mtu=network.get("mtu"),
            addressing=tuple(addressing),
        )
