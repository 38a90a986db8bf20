"""Compute's network port on the networking service in this process.

:class:`LocalNetworks` makes and lets go of the ports of servers by deciding
on the networking core directly (the same deciders and policy as the API, as
the caller's project), so a boot's ports are appended before its request and
every refusal is Neutron's, worded for Nova (a 400 for a bad network or port,
a 409 for a port in use, 403 for an exhausted quota).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from cairn.compute import errors as compute
from cairn.events import Metadata
from cairn.network import ports, quota, security_groups, topology
from cairn.network.access import Caller, visible
from cairn.network.errors import Conflict, NetworkError, NotFound, QuotaExceeded
from cairn.network.plan import Plan
from cairn.network.service import Networking

COMPUTE_OWNER = "compute:nova"


def _translated(exc: NetworkError) -> compute.ComputeError:
    if isinstance(exc, QuotaExceeded):
        return compute.QuotaExceeded(f"Maximum number of ports exceeded: {exc}", ("port",))
    if isinstance(exc, Conflict):
        return compute.Conflict(str(exc))
    return compute.Invalid(str(exc))


class LocalNetworks:
    """``core`` gives the networking core (it starts after the composition root
    wires this port, and before the first request)."""

    def __init__(self, core: Callable[[], Networking]) -> None:
        self._core = core

    @property
    def networking(self) -> Networking:
        return self._core()

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
        who = Caller(project_id=project_id, user_id=user_id, is_admin=is_admin)
        meta = Metadata(user_id=user_id, project_id=project_id)
        core = self.networking
        try:
            if requested == [{"auto": "true"}]:
                requested = [{"uuid": await self._auto(who, meta)}]
            entries: list[dict[str, str]] = []

            def command(plan: Plan) -> list[dict[str, str]]:
                groups = self._groups(plan, who, security_groups)
                made = []
                for item in requested:
                    made.append(self._nic(plan, who, server_id, item, groups))
                return made

            entries = await core.run(meta, command)
        except NetworkError as exc:
            raise _translated(exc) from None
        return entries

    async def _auto(self, who: Caller, meta: Metadata) -> str:
        """Nova's ``auto``: the project's only network, else its auto-allocated one."""
        state = self.networking.state
        usable = [
            n
            for n in state.of("network").values()
            if not n.get("router:external") and (n.project_id == who.project_id or n.get("shared"))
        ]
        if len(usable) > 1:
            raise compute.Conflict(
                "Multiple possible networks found, use a Network ID to be more specific."
            )
        if usable:
            return usable[0].id
        core = self.networking
        network = await core.run(
            meta, lambda plan: topology.ensure(plan, who, core.config, who.project_id)
        )
        return network.id

    def _groups(self, plan: Plan, who: Caller, names: list[str]) -> list[str] | None:
        if not names:
            return None
        found = []
        for name in names:
            if name == "default":
                found.append(
                    security_groups.ensure_default(plan, self.networking.config, who.project_id).id
                )
                continue
            match = [
                g
                for g in plan.resources("security_group")
                if g.project_id == who.project_id and (g.get("name") == name or g.id == name)
            ]
            if not match:
                raise NotFound(
                    f"Security group {name} not found for project {who.project_id}.",
                    "SecurityGroupNotFound",
                )
            found.append(match[0].id)
        return found

    def _nic(
        self,
        plan: Plan,
        who: Caller,
        server_id: str,
        item: dict[str, str],
        groups: list[str] | None,
    ) -> dict[str, str]:
        if "port" in item:
            port = plan.find("port", item["port"])
            if port is None or not visible(plan.state, who, port):
                raise NotFound(f"Port {item['port']} could not be found.", "PortNotFound")
            if port.get("device_id") and port.get("device_id") != server_id:
                raise Conflict(f"Port {port.id} is still in use.", "PortInUse")
            plan.update(port, {"device_id": server_id, "device_owner": COMPUTE_OWNER})
            return {"uuid": port.get("network_id"), "port": port.id, "created": "false"}
        attrs: dict[str, Any] = {
            "network_id": item["uuid"],
            "device_id": server_id,
            "device_owner": COMPUTE_OWNER,
        }
        if item.get("fixed_ip"):
            attrs["fixed_ips"] = [{"ip_address": item["fixed_ip"]}]
        if groups is not None:
            attrs["security_groups"] = groups
        port = ports.create(plan, who, self.networking.config, attrs, who.project_id)
        return {"uuid": item["uuid"], "port": port.id, "created": "true"}

    async def release(self, server_id: str, entries: list[dict[str, str]]) -> None:
        mine = {e["port"]: e.get("created") == "true" for e in entries if e.get("port")}
        if not mine:
            return
        admin = Caller(project_id="", user_id="cairn-compute", is_admin=True)

        def command(plan: Plan) -> None:
            for port_id, created in mine.items():
                port = plan.find("port", port_id)
                if port is None or port.get("device_id") != server_id:
                    continue
                if created:
                    ports.delete(plan, admin, port_id, internal=True)
                else:
                    ports.update(
                        plan,
                        admin,
                        self.networking.config,
                        port_id,
                        {"device_id": "", "device_owner": "", "binding:host_id": ""},
                    )

        await self.networking.run(Metadata(user_id="cairn-compute"), command)

    def interfaces(self, server_id: str) -> list[dict[str, Any]]:
        found = [
            p
            for p in self.networking.state.of("port").values()
            if p.get("device_id") == server_id and p.get("device_owner") == COMPUTE_OWNER
        ]
        return [
            {
                "port_id": p.id,
                "net_id": p.get("network_id"),
                "mac_addr": p.get("mac_address"),
                "port_state": p.get("status"),
                "fixed_ips": [
                    {"subnet_id": f.get("subnet_id"), "ip_address": f.get("ip_address")}
                    for f in p.get("fixed_ips") or []
                ],
            }
            for p in sorted(found, key=lambda p: (p.created_at, p.id))
        ]

    def quota(self, project_id: str) -> dict[str, tuple[int, int]]:
        state, defaults = self.networking.state, self.networking.config.quotas
        limits, used = quota.limits(state, defaults, project_id), quota.used(state, project_id)
        fixed = sum(
            len(p.get("fixed_ips") or [])
            for p in state.of("port").values()
            if p.project_id == project_id
        )
        return {
            "floating_ips": (limits["floatingip"], used["floatingip"]),
            # networking has no limit on a project's fixed addresses
            "fixed_ips": (-1, fixed),
            "security_groups": (limits["security_group"], used["security_group"]),
            "security_group_rules": (limits["security_group_rule"], used["security_group_rule"]),
        }
