"""The network port of compute: the ports a server's NICs are, made and let go.

A boot's ``networks`` are turned into ports before the boot request is
appended (as Nova allocates them before it builds): a network named by
``uuid`` (with its ``fixed_ip``) gets a new port for the server; a ``port``
the user made is taken for it; ``auto`` is the project's one network, or its
auto-allocated topology when it has none. What comes back is the server's
network request as stored: one entry per NIC, ``{"uuid": network, "port":
port, "created": "true"|"false"}``. When the server is gone, :meth:`release`
deletes the ports the boot made and frees the ones the user gave.

The port is a protocol: the composition root wires the networking service in
(:mod:`cairn.network.compute_port`); a compute without one refuses NICs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from cairn.compute.errors import Invalid


class NetworkPort(Protocol):
    async def prepare(
        self,
        *,
        project_id: str,
        user_id: str,
        is_admin: bool,
        server_id: str,
        requested: list[dict[str, str]],
        security_groups: list[str],
    ) -> list[dict[str, str]]:
        """The server's NICs for ``requested``; raises compute's errors."""
        ...

    async def release(self, server_id: str, entries: list[dict[str, str]]) -> None:
        """Delete the ports made for the server and unbind the ones it was given
        (idempotent: what is already gone is skipped)."""
        ...

    def quota(self, project_id: str) -> dict[str, tuple[int, int]]:
        """The project's network quotas Nova showed before 2.36, as (limit, in use):
        ``floating_ips``, ``fixed_ips``, ``security_groups``, ``security_group_rules``."""
        ...

    def interfaces(self, server_id: str) -> list[dict[str, Any]]:
        """The ports whose device is the server, as Nova's ``interfaceAttachment``
        (``port_id``, ``net_id``, ``mac_addr``, ``port_state``, ``fixed_ips``)."""
        ...


class NoNetworks:
    """A compute without networking: any NIC is refused."""

    async def prepare(
        self,
        *,
        project_id: str,
        user_id: str,
        is_admin: bool,
        server_id: str,
        requested: list[dict[str, str]],
        security_groups: list[str],
    ) -> list[dict[str, str]]:
        if requested:
            raise Invalid("This cloud has no networking service: boot with networks 'none'.")
        return []

    async def release(self, server_id: str, entries: list[dict[str, str]]) -> None:
        return None

    def quota(self, project_id: str) -> dict[str, tuple[int, int]]:
        return {}

    def interfaces(self, server_id: str) -> list[dict[str, Any]]:
        return []


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks the security-group port: a project's user, or an admin."""

    project_id: str
    user_id: str
    is_admin: bool = False


class SecurityGroupPort(Protocol):
    """Nova's ``os-security-groups`` proxy, in Nova's shapes (before 2.36); raises
    compute's errors (a missing group is :class:`~cairn.compute.errors.NotFound`)."""

    async def groups(self, who: Requester, all_projects: bool = False) -> list[dict[str, Any]]:
        """The caller's project's groups; every project's for an admin with ``all_projects``."""
        ...

    async def show(self, who: Requester, group_id: str) -> dict[str, Any]: ...
    async def create(self, who: Requester, name: str, description: str) -> dict[str, Any]: ...
    async def update(
        self, who: Requester, group_id: str, changes: dict[str, str]
    ) -> dict[str, Any]: ...
    async def delete(self, who: Requester, group_id: str) -> None: ...
    async def add_rule(
        self,
        who: Requester,
        parent: str,
        protocol: str | None,
        from_port: int | None,
        to_port: int | None,
        cidr: str | None,
        group_id: str | None,
    ) -> dict[str, Any]: ...
    async def delete_rule(self, who: Requester, rule_id: str) -> None: ...
    def of_server(self, server_id: str) -> list[dict[str, Any]]: ...
    async def change_server(
        self, who: Requester, server_id: str, name: str, *, add: bool
    ) -> None: ...
