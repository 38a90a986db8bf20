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

from typing import Protocol

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
