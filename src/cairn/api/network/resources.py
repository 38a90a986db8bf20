"""The collections every Neutron resource shares: list, show, create (one or in
bulk), update, delete, each decided by its kind's decider in :mod:`cairn.network`.

A bulk create (``{"networks": [...]}``) is one plan and one append: all of the
resources are created, or none.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from cairn.api.network import attributes
from cairn.api.network.common import body, caller, metadata, networking, owner, revision_check
from cairn.api.network.listing import filter_items, page, select_fields
from cairn.api.network.render import ADMIN_ONLY, render
from cairn.network import (
    common,
    floatingips,
    networks,
    ports,
    routers,
    security_groups,
    subnetpools,
    subnets,
)
from cairn.network.access import Caller, visible
from cairn.network.config import NetworkConfig
from cairn.network.errors import Invalid
from cairn.network.plan import Plan
from cairn.projections.network import NetworkState, Resource

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Create = Callable[[Plan, Caller, NetworkConfig, dict[str, Any], str], Resource]


@dataclass(frozen=True, slots=True)
class Kind:
    kind: str
    singular: str
    plural: str
    create: Create
    update: Callable[[Plan, Caller, NetworkConfig, str, dict[str, Any]], Resource]
    delete: Callable[[Plan, Caller, str], None]


def _rule_create(
    plan: Plan, who: Caller, config: NetworkConfig, attrs: dict[str, Any], project_id: str
) -> Resource:
    del project_id  # a rule belongs to its group's project
    return security_groups.create_rule(plan, who, config, attrs)


def _no_update(
    plan: Plan, who: Caller, config: NetworkConfig, rid: str, attrs: dict[str, Any]
) -> Resource:
    if attrs:
        raise Invalid("Security group rules cannot be updated.", "HTTPBadRequest")
    return common.find(plan, who, "security_group_rule", rid)


KINDS: dict[str, Kind] = {
    k.kind: k
    for k in (
        Kind(
            "network",
            "network",
            "networks",
            networks.create,
            lambda p, w, c, i, a: networks.update(p, w, i, a),
            networks.delete,
        ),
        Kind("subnet", "subnet", "subnets", subnets.create, subnets.update, subnets.delete),
        Kind("port", "port", "ports", ports.create, ports.update, ports.delete),
        Kind(
            "router",
            "router",
            "routers",
            routers.create,
            lambda p, w, c, i, a: routers.update(p, w, i, a),
            routers.delete,
        ),
        Kind(
            "floatingip",
            "floatingip",
            "floatingips",
            floatingips.create,
            lambda p, w, c, i, a: floatingips.update(p, w, i, a),
            floatingips.delete,
        ),
        Kind(
            "security_group",
            "security_group",
            "security_groups",
            security_groups.create,
            lambda p, w, c, i, a: security_groups.update(p, w, i, a),
            security_groups.delete,
        ),
        Kind(
            "security_group_rule",
            "security_group_rule",
            "security_group_rules",
            _rule_create,
            _no_update,
            security_groups.delete_rule,
        ),
        Kind(
            "subnetpool",
            "subnetpool",
            "subnetpools",
            subnetpools.create,
            lambda p, w, c, i, a: subnetpools.update(p, w, i, a),
            subnetpools.delete,
        ),
    )
}


def shown(state: NetworkState, who: Caller, kind: str) -> list[dict[str, Any]]:
    return [
        render(state, r, admin=who.is_admin)
        for r in state.of(kind).values()
        if visible(state, who, r)
    ]


def known_attributes(kind: str) -> set[str]:
    names = set(attributes.ATTRIBUTES[kind]) | {
        "id",
        "project_id",
        "tenant_id",
        "status",
        "created_at",
        "updated_at",
        "revision_number",
        "tags",
        "description",
    }
    extra = {
        "network": {
            "subnets",
            "availability_zones",
            "l2_adjacency",
            "ipv4_address_scope",
            "ipv6_address_scope",
        },
        "port": {
            "binding:vif_type",
            "binding:vif_details",
            "dns_assignment",
            "extra_dhcp_opts",
            "ip_allocation",
        },
        "router": {"availability_zones"},
        "floatingip": {"router_id", "port_details"},
        "security_group": {"security_group_rules", "shared"},
        "security_group_rule": {
            "belongs_to_default_sg",
            "normalized_cidr",
            "remote_address_group_id",
        },
        "subnetpool": {"ip_version"},
        "subnet": {"ip_version"},
    }
    return names | extra.get(kind, set())


def list_handler(spec: Kind) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        who = caller(request)
        core = networking(request)
        if spec.kind == "security_group" and who.project_id:
            # Neutron makes a project's default group when it first looks at its groups.
            await _ensure_default_group(request, who)
        known = known_attributes(spec.kind)
        if not who.is_admin:
            known -= set(ADMIN_ONLY)
        items = filter_items(shown(core.state, who, spec.kind), request.query, known=known)
        result = page(request, spec.plural, items, known=known, max_page=core.config.max_page)
        fields = request.query.getall("fields", [])
        if fields:
            result[spec.plural] = [select_fields(i, fields) for i in result[spec.plural]]
        return web.json_response(result)

    return handler


async def _ensure_default_group(request: web.Request, who: Caller) -> None:
    core = networking(request)
    if core.state.find("security_group", security_groups.default_id(who.project_id)) is not None:
        return
    await core.run(
        metadata(request),
        lambda plan: security_groups.ensure_default(plan, core.config, who.project_id),
    )


def show_handler(spec: Kind) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        who = caller(request)
        core = networking(request)
        found = core.state.find(spec.kind, request.match_info["id"])
        if found is None or not visible(core.state, who, found):
            raise common.not_found(spec.kind, request.match_info["id"])
        item = render(core.state, found, admin=who.is_admin)
        item = select_fields(item, request.query.getall("fields", []))
        return web.json_response({spec.singular: item})

    return handler


def create_handler(spec: Kind) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        who = caller(request, write=True)
        core = networking(request)
        data = await body(request)
        if (
            not isinstance(data, dict)
            or len(data) != 1
            or not (spec.singular in data or spec.plural in data)
        ):
            raise Invalid(
                f"Resource body required: {{'{spec.singular}': {{...}}}}", "HTTPBadRequest"
            )
        bulk = spec.plural in data
        raw = data[spec.plural] if bulk else [data[spec.singular]]
        if bulk and (not isinstance(raw, list) or not raw):
            raise Invalid(
                f"Resources required: {spec.plural} must be a non-empty list", "HTTPBadRequest"
            )
        parsed = []
        for item in raw:
            attrs = attributes.parse(spec.kind, item, creating=True)
            parsed.append((attrs, owner(who, attrs)))
        meta = metadata(request)
        if spec.kind == "port" and not bulk:
            created = [await core.create_port(who, parsed[0][0], parsed[0][1], meta)]
        else:
            created = await core.run(
                meta,
                lambda plan: [
                    spec.create(plan, who, core.config, dict(attrs), project)
                    for attrs, project in parsed
                ],
            )
        state = core.state
        items = [
            render(state, state.find(spec.kind, r.id) or r, admin=who.is_admin) for r in created
        ]
        answer = {spec.plural: items} if bulk else {spec.singular: items[0]}
        return web.json_response(answer, status=201)

    return handler


def update_handler(spec: Kind) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        who = caller(request, write=True)
        core = networking(request)
        resource_id = request.match_info["id"]
        data = await body(request)
        if not isinstance(data, dict) or set(data) != {spec.singular}:
            raise Invalid(
                f"Resource body required: {{'{spec.singular}': {{...}}}}", "HTTPBadRequest"
            )
        attrs = attributes.parse(spec.kind, data[spec.singular], creating=False)

        def command(plan: Plan) -> Resource:
            found = common.find(plan, who, spec.kind, resource_id)
            revision_check(request, found.revision_number)
            return spec.update(plan, who, core.config, resource_id, dict(attrs))

        await core.run(metadata(request), command)
        found = core.state.find(spec.kind, resource_id)
        if found is None:
            raise common.not_found(spec.kind, resource_id)
        return web.json_response({spec.singular: render(core.state, found, admin=who.is_admin)})

    return handler


def delete_handler(spec: Kind) -> Handler:
    async def handler(request: web.Request) -> web.Response:
        who = caller(request, write=True)
        core = networking(request)
        resource_id = request.match_info["id"]

        def command(plan: Plan) -> None:
            found = common.find(plan, who, spec.kind, resource_id)
            revision_check(request, found.revision_number)
            spec.delete(plan, who, resource_id)

        await core.run(metadata(request), command)
        return web.Response(status=204)

    return handler
