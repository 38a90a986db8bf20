"""Nova's network proxies (before microversion 2.36): floating IPs, their pools, and
networks, in Nova's shapes, decided by networking.

The port is a protocol; the composition root wires this process's networking in
(:class:`cairn.network.nova_proxy.NovaNetworkProxy`). Refusals are compute's
errors (a missing address or pool is :class:`~cairn.compute.errors.NotFound`).
"""

from __future__ import annotations

from typing import Any, Protocol

from cairn.compute.networks import Requester


class NetworkProxyPort(Protocol):
    def floating_ips(self, who: Requester) -> list[dict[str, Any]]:
        """The project's floating IPs as Nova's ``floating_ip`` (id, ip, pool,
        fixed_ip, instance_id)."""
        ...

    def floating_ip(self, who: Requester, fip_id: str) -> dict[str, Any]: ...

    async def allocate(self, who: Requester, pool: str | None) -> dict[str, Any]:
        """A new floating IP from ``pool`` (an external network's name; None: the
        default pool)."""
        ...

    async def release(self, who: Requester, fip_id: str) -> None: ...

    def pools(self, who: Requester) -> list[dict[str, str]]:
        """The pools floating IPs come from: the external networks, by name."""
        ...

    async def associate(
        self, who: Requester, server_id: str, address: str, fixed_address: str | None
    ) -> None:
        """Put the project's floating ``address`` on the server's port (the one
        holding ``fixed_address`` when given)."""
        ...

    async def disassociate(self, who: Requester, server_id: str, address: str) -> None: ...

    def networks(self, who: Requester) -> list[dict[str, Any]]:
        """The networks the caller sees, as Nova's network proxy shows them."""
        ...

    def network(self, who: Requester, network_id: str) -> dict[str, Any]: ...
