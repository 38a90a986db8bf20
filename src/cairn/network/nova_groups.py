"""Nova's security-group proxy (``os-security-groups``), decided by networking.

Nova's API (before microversion 2.36) shows a project's security groups in its
own shape: a group's *ingress* rules only, a rule as ``ip_protocol``,
``from_port``/``to_port`` (-1 for any), ``ip_range`` or ``group``; servers are
added to and removed from groups by name. :class:`NovaSecurityGroups` keeps
that shape at the edge and decides everything with networking's deciders, as
the caller's project: the groups are Neutron's groups, the same ones
``/networking`` shows. Refusals are compute's errors, worded for Nova (a
missing group is a 404; a bad rule, a duplicate or the default group's delete
a 400).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable
from typing import Any

from cairn.compute import errors as compute
from cairn.compute.networks import Requester
from cairn.events import Metadata
from cairn.network import ports, security_groups
from cairn.network.access import Caller
from cairn.network.errors import NetworkError, NotFound
from cairn.network.plan import Plan
from cairn.network.service import Networking
from cairn.projections.network import NetworkState, Resource

Group = dict[str, Any]


def _translated(exc: NetworkError) -> compute.ComputeError:
    if isinstance(exc, NotFound):
        return compute.NotFound(str(exc))
    return compute.Invalid(str(exc))


def _rule(state: NetworkState, rule: Resource) -> dict[str, Any]:
    remote = state.find("security_group", rule.get("remote_group_id") or "")
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    return {
        "id": rule.id,
        "parent_group_id": rule.get("security_group_id"),
        "ip_protocol": rule.get("protocol"),
        "from_port": -1 if low is None else low,
        "to_port": -1 if high is None else high,
        "ip_range": {"cidr": rule.get("remote_ip_prefix")} if rule.get("remote_ip_prefix") else {},
        "group": {"name": remote.get("name"), "tenant_id": remote.project_id} if remote else {},
    }


def nova_group(state: NetworkState, group: Resource) -> Group:
    rules = [
        r
        for r in state.of("security_group_rule").values()
        if r.get("security_group_id") == group.id and r.get("direction") == "ingress"
    ]
    return {
        "id": group.id,
        "name": group.get("name"),
        "description": group.get("description"),
        "tenant_id": group.project_id,
        "rules": [_rule(state, r) for r in sorted(rules, key=lambda r: r.id)],
    }


def _caller(asker: Requester) -> Caller:
    return Caller(project_id=asker.project_id, user_id=asker.user_id, is_admin=asker.is_admin)


class NovaSecurityGroups:
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

    def _group(self, who: Caller, group_id: str) -> Resource:
        found = self.networking.state.find("security_group", group_id)
        if found is None or not (who.is_admin or found.project_id == who.project_id):
            raise compute.NotFound(f"Security group {group_id} not found.")
        return found

    async def groups(self, asker: Requester, all_projects: bool = False) -> list[Group]:
        who = _caller(asker)
        core = self.networking
        if (
            who.project_id
            and core.state.find("security_group", security_groups.default_id(who.project_id))
            is None
        ):
            await self._run(
                who, lambda plan: security_groups.ensure_default(plan, core.config, who.project_id)
            )
        state = core.state
        found = [
            g
            for g in state.of("security_group").values()
            if g.project_id == who.project_id
            or (who.is_admin and (all_projects or not who.project_id))
        ]
        return [nova_group(state, g) for g in sorted(found, key=lambda g: g.id)]

    async def show(self, asker: Requester, group_id: str) -> Group:
        who = _caller(asker)
        return nova_group(self.networking.state, self._group(who, group_id))

    async def create(self, asker: Requester, name: str, description: str) -> Group:
        who = _caller(asker)
        core = self.networking
        made: Resource = await self._run(
            who,
            lambda plan: security_groups.create(
                plan, who, core.config, {"name": name, "description": description}, who.project_id
            ),
        )
        return await self.show(asker, made.id)

    async def update(self, asker: Requester, group_id: str, changes: dict[str, str]) -> Group:
        who = _caller(asker)
        self._group(who, group_id)
        await self._run(who, lambda plan: security_groups.update(plan, who, group_id, changes))
        return await self.show(asker, group_id)

    async def delete(self, asker: Requester, group_id: str) -> None:
        who = _caller(asker)
        group = self._group(who, group_id)
        if group.id == security_groups.default_id(group.project_id):
            raise compute.Invalid("Removing default security group not allowed.")
        await self._run(who, lambda plan: security_groups.delete(plan, who, group_id))

    async def add_rule(
        self,
        asker: Requester,
        parent: str,
        protocol: str | None,
        from_port: int | None,
        to_port: int | None,
        cidr: str | None,
        group_id: str | None,
    ) -> dict[str, Any]:
        who = _caller(asker)
        group = self._group(who, parent)
        core = self.networking
        attrs: dict[str, Any] = {"security_group_id": group.id, "direction": "ingress"}
        if protocol:
            attrs["protocol"] = protocol.lower()
            if protocol.lower() == "icmp":
                attrs["port_range_min"] = None if from_port in (None, -1) else from_port
                attrs["port_range_max"] = None if to_port in (None, -1) else to_port
            else:
                attrs["port_range_min"], attrs["port_range_max"] = from_port, to_port
        if group_id:
            self._group(who, group_id)
            attrs["remote_group_id"] = group_id
        else:
            attrs["remote_ip_prefix"] = cidr or "0.0.0.0/0"
            version = ipaddress.ip_network(attrs["remote_ip_prefix"], strict=False).version
            attrs["ethertype"] = f"IPv{version}"
        made: Resource = await self._run(
            who, lambda plan: security_groups.create_rule(plan, who, core.config, attrs)
        )
        rule = core.state.find("security_group_rule", made.id) or made
        return _rule(core.state, rule)

    async def delete_rule(self, asker: Requester, rule_id: str) -> None:
        who = _caller(asker)
        rule = self.networking.state.find("security_group_rule", rule_id)
        if rule is None or not (who.is_admin or rule.project_id == who.project_id):
            raise compute.NotFound(f"Security group rule {rule_id} not found.")
        await self._run(who, lambda plan: security_groups.delete_rule(plan, who, rule_id))

    def of_server(self, server_id: str) -> list[Group]:
        state = self.networking.state
        ids: list[str] = []
        for port in state.of("port").values():
            if port.get("device_id") == server_id:
                ids += [g for g in port.get("security_groups") or [] if g not in ids]
        return [nova_group(state, g) for i in ids if (g := state.find("security_group", i))]

    async def change_server(
        self, asker: Requester, server_id: str, name: str, *, add: bool
    ) -> None:
        who = _caller(asker)
        """Add the project's group ``name`` to (or remove it from) every port of the server."""
        state = self.networking.state
        matches = [
            g
            for g in state.of("security_group").values()
            if g.project_id == who.project_id and (g.get("name") == name or g.id == name)
        ]
        if not matches:
            raise compute.NotFound(f"Security group {name} not found for project {who.project_id}.")
        if len(matches) > 1:
            raise compute.Conflict(f"Multiple security groups named {name}: use an id.")
        group = matches[0]
        core = self.networking

        def command(plan: Plan) -> None:
            mine = [p for p in plan.resources("port") if p.get("device_id") == server_id]
            if not mine:
                raise NotFound(f"Server {server_id} has no network interface.", "PortNotFound")
            if not add and not any(group.id in (p.get("security_groups") or []) for p in mine):
                raise NetworkError(f"Security group {name} not associated with the instance.")
            for port in mine:
                groups = list(port.get("security_groups") or [])
                if add and group.id not in groups:
                    groups.append(group.id)
                elif not add:
                    groups = [g for g in groups if g != group.id]
                ports.update(plan, who, core.config, port.id, {"security_groups": groups})

        await self._run(who, command)
