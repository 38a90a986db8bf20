"""Nova's floating-IP and network proxies (before 2.36), decided by networking.

A floating IP's pool is its external network's name (Nova's
``default_floating_pool`` is the network the first start made, ``public``);
allocating one is networking's floating-IP create as the caller's project,
associating it is networking's update with the server's port, so NAT and
quota are networking's own. A network is shown as Nova's proxy shows a
Neutron network: ``id``, ``label`` (its name) and the subnet's ``cidr``; the
nova-network fields Neutron has no value for are ``None``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cairn.compute import errors as compute
from cairn.compute.networks import Requester
from cairn.events import Metadata
from cairn.network import floatingips
from cairn.network.access import Caller, editable, visible
from cairn.network.errors import Conflict, Forbidden, NetworkError, NotFound, QuotaExceeded
from cairn.network.plan import Plan
from cairn.network.service import Networking
from cairn.projections.network import NetworkState, Resource

#: the nova-network attributes Nova's proxy shows as None for a Neutron network
_UNSET_NETWORK_FIELDS = (
    "bridge",
    "bridge_interface",
    "broadcast",
    "cidr_v6",
    "created_at",
    "deleted",
    "deleted_at",
    "dhcp_server",
    "dhcp_start",
    "dns1",
    "dns2",
    "enable_dhcp",
    "gateway",
    "gateway_v6",
    "host",
    "injected",
    "mtu",
    "multi_host",
    "netmask",
    "netmask_v6",
    "priority",
    "project_id",
    "rxtx_base",
    "share_address",
    "updated_at",
    "vlan",
    "vpn_private_address",
    "vpn_public_address",
    "vpn_public_port",
)


def _caller(asker: Requester) -> Caller:
    return Caller(project_id=asker.project_id, user_id=asker.user_id, is_admin=asker.is_admin)


def _translated(exc: NetworkError) -> compute.ComputeError:
    if isinstance(exc, NotFound):
        return compute.NotFound(str(exc))
    if isinstance(exc, QuotaExceeded):
        return compute.QuotaExceeded(str(exc), ("floating_ips",))
    if isinstance(exc, Forbidden):
        return compute.Forbidden(str(exc))
    if isinstance(exc, Conflict):
        return compute.Conflict(str(exc))
    return compute.Invalid(str(exc))


class NovaNetworkProxy:
    def __init__(self, core: Callable[[], Networking]) -> None:
        self._core = core

    @property
    def networking(self) -> Networking:
        return self._core()

    async def _run(self, who: Caller, command: Callable[[Plan], Any]) -> Any:
        try:
            return await self.networking.run(
                Metadata(user_id=who.user_id, project_id=who.project_id), command
            )
        except NetworkError as exc:
            raise _translated(exc) from None

    # -- floating IPs -------------------------------------------------------------------

    def _view(self, state: NetworkState, fip: Resource) -> dict[str, Any]:
        network = state.find("network", fip.get("floating_network_id") or "")
        port = state.find("port", fip.get("port_id") or "")
        return {
            "id": fip.id,
            "ip": fip.get("floating_ip_address"),
            "pool": network.get("name") if network else None,
            "fixed_ip": fip.get("fixed_ip_address"),
            "instance_id": (port.get("device_id") or None) if port else None,
        }

    def _mine(self, who: Caller) -> list[Resource]:
        state = self.networking.state
        return sorted(
            (f for f in state.of("floatingip").values() if f.project_id == who.project_id),
            key=lambda f: f.id,
        )

    def floating_ips(self, asker: Requester) -> list[dict[str, Any]]:
        state = self.networking.state
        return [self._view(state, f) for f in self._mine(_caller(asker))]

    def _fip(self, who: Caller, fip_id: str) -> Resource:
        found = self.networking.state.find("floatingip", fip_id)
        if found is None or found.project_id != who.project_id:
            raise compute.NotFound(f"Floating IP not found for ID {fip_id}")
        return found

    def floating_ip(self, asker: Requester, fip_id: str) -> dict[str, Any]:
        return self._view(self.networking.state, self._fip(_caller(asker), fip_id))

    def _pool(self, name: str) -> Resource:
        for network in self.networking.state.of("network").values():
            if network.get("router:external") and name in (network.get("name"), network.id):
                return network
        raise compute.NotFound("Floating IP pool not found.")

    async def allocate(self, asker: Requester, pool: str | None) -> dict[str, Any]:
        who = _caller(asker)
        network = self._pool(pool or self.networking.config.public_network)
        core = self.networking
        try:
            made: Resource = await core.run(
                Metadata(user_id=who.user_id, project_id=who.project_id),
                lambda plan: floatingips.create(
                    plan, who, core.config, {"floating_network_id": network.id}, who.project_id
                ),
            )
        except Conflict as exc:
            if exc.type == "IpAddressGenerationFailure":
                raise compute.NotFound(
                    f"No more floating IPs in pool {network.get('name')}."
                ) from None
            raise _translated(exc) from None
        except NetworkError as exc:
            raise _translated(exc) from None
        return self._view(core.state, core.state.find("floatingip", made.id) or made)

    async def release(self, asker: Requester, fip_id: str) -> None:
        who = _caller(asker)
        self._fip(who, fip_id)
        await self._run(who, lambda plan: floatingips.delete(plan, who, fip_id))

    def pools(self, asker: Requester) -> list[dict[str, str]]:
        networks = self.networking.state.of("network").values()
        return [
            {"name": n.get("name") or n.id}
            for n in sorted(networks, key=lambda n: n.get("name") or n.id)
            if n.get("router:external")
        ]

    def _by_address(self, who: Caller, address: str) -> Resource:
        for fip in self._mine(who):
            if fip.get("floating_ip_address") == address:
                return fip
        raise compute.NotFound(f"floating IP {address} not found")

    async def associate(
        self, asker: Requester, server_id: str, address: str, fixed_address: str | None
    ) -> None:
        who = _caller(asker)
        fip = self._by_address(who, address)
        state = self.networking.state
        ports = sorted(
            (p for p in state.of("port").values() if p.get("device_id") == server_id),
            key=lambda p: p.id,
        )
        if fixed_address is not None:
            ports = [
                p
                for p in ports
                if any(f["ip_address"] == fixed_address for f in p.get("fixed_ips") or [])
            ]
            if not ports:
                raise compute.Invalid(
                    f"Specified fixed address {fixed_address} not assigned to instance"
                )
        if not ports:
            raise compute.Invalid("No nw_info cache associated with instance")
        port = ports[0]
        # An address already on another server moves (Nova's rule); any refusal of
        # networking's is Nova's 400 "Unable to associate floating IP".
        attrs = {"port_id": port.id, "fixed_ip_address": fixed_address}
        try:
            await self.networking.run(
                Metadata(user_id=who.user_id, project_id=who.project_id),
                lambda plan: floatingips.update(plan, who, fip.id, attrs),
            )
        except NotFound as exc:
            raise compute.Invalid(f"Unable to associate floating IP {address}: {exc}") from None
        except NetworkError as exc:
            raise compute.Invalid(
                f"Unable to associate floating IP {address} to instance {server_id}: {exc}"
            ) from None

    async def disassociate(self, asker: Requester, server_id: str, address: str) -> None:
        who = _caller(asker)
        fip = self._by_address(who, address)
        port = self.networking.state.find("port", fip.get("port_id") or "")
        if port is None or port.get("device_id") != server_id:
            raise compute.Conflict(
                f"Floating IP {address} is not associated with instance {server_id}."
            )
        await self._run(who, lambda plan: floatingips.update(plan, who, fip.id, {"port_id": None}))

    # -- networks -----------------------------------------------------------------------

    def _network_view(self, state: NetworkState, network: Resource) -> dict[str, Any]:
        subnets = [
            s
            for s in state.of("subnet").values()
            if s.get("network_id") == network.id and s.get("ip_version") == 4
        ]
        view: dict[str, Any] = dict.fromkeys(_UNSET_NETWORK_FIELDS)
        view.update(
            {
                "id": network.id,
                "label": network.get("name"),
                "cidr": subnets[0].get("cidr") if subnets else None,
            }
        )
        return view

    def networks(self, asker: Requester) -> list[dict[str, Any]]:
        who = _caller(asker)
        state = self.networking.state
        found = [n for n in state.of("network").values() if visible(state, who, n)]
        return [self._network_view(state, n) for n in sorted(found, key=lambda n: n.id)]

    def network(self, asker: Requester, network_id: str) -> dict[str, Any]:
        who = _caller(asker)
        state = self.networking.state
        found = state.find("network", network_id)
        if found is None or not (visible(state, who, found) or editable(who, found)):
            raise compute.NotFound(f"Network {network_id} could not be found.")
        return self._network_view(state, found)
