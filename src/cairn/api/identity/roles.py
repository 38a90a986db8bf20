"""``/v3/roles``, implied roles, grants on projects, domains and the system, and
``/v3/role_assignments`` with the filters clients use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.identity import render
from cairn.api.identity.auth import authorize
from cairn.api.identity.common import (
    Name,
    Text,
    filtered,
    json,
    path_id,
    query_bool,
    run,
    state,
)
from cairn.events import identity as ev
from cairn.identity import commands
from cairn.identity import roles as effective
from cairn.identity.decide import find, new_id
from cairn.projections.identity import Grant, grant_key

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
UNSET = msgspec.UNSET


class NewRole(msgspec.Struct):
    name: Name
    description: Text | None = None
    domain_id: Name | None = None


class RoleChange(msgspec.Struct):
    name: Name | msgspec.UnsetType = UNSET
    description: Text | msgspec.UnsetType | None = UNSET


class RoleBody(msgspec.Struct):
    role: NewRole


class RoleChangeBody(msgspec.Struct):
    role: RoleChange


async def list_roles(request: web.Request) -> web.Response:
    await authorize(request, "identity:list_roles", {})
    roles = list(state(request).roles.values())
    if "domain_id" not in request.query:
        roles = [r for r in roles if r.domain_id is None]
    items = filtered(request, roles, "name", "domain_id")
    return json(render.collection(request, "roles", [render.role(request, r) for r in items]))


async def get_role(request: web.Request) -> web.Response:
    role_id = path_id(request, "role_id")
    await authorize(request, "identity:get_role", {"target.role.id": role_id})
    return json({"role": render.role(request, find(state(request).roles, role_id, "role"))})


async def create_role(request: web.Request) -> web.Response:
    await authorize(request, "identity:create_role", {})
    body = (await read_json(request, RoleBody)).role
    event = ev.RoleCreated(
        role_id=new_id(), name=body.name, description=body.description or "",
        domain_id=body.domain_id,
    )  # fmt: skip
    await run(request, lambda s, m: commands.create_role(s, m, event))
    return json({"role": render.role(request, state(request).roles[event.role_id])}, 201)


async def update_role(request: web.Request) -> web.Response:
    role_id = path_id(request, "role_id")
    await authorize(request, "identity:update_role", {"target.role.id": role_id})
    change = (await read_json(request, RoleChangeBody)).role
    old = find(state(request).roles, role_id, "role")
    event = ev.RoleUpdated(
        role_id=role_id,
        name=old.name if change.name is UNSET else change.name,
        description=old.description if change.description is UNSET else change.description or "",
    )
    await run(request, lambda s, m: commands.update_role(s, m, event))
    return json({"role": render.role(request, state(request).roles[role_id])})


async def delete_role(request: web.Request) -> web.Response:
    role_id = path_id(request, "role_id")
    await authorize(request, "identity:delete_role", {"target.role.id": role_id})
    await run(request, lambda s, m: commands.delete_role(s, m, role_id))
    return web.Response(status=204)


# -- implied roles -------------------------------------------------------------------


def _rule(request: web.Request, prior: str, implied: str) -> dict[str, object]:
    """One inference rule: ``implies`` is the one role (a list only in listings)."""
    s = state(request)
    return {
        "prior_role": render.role_ref(request, s.roles[prior]),
        "implies": render.role_ref(request, s.roles[implied]),
    }


def _inference(request: web.Request, prior: str, implied: list[str]) -> dict[str, object]:
    s = state(request)
    return {
        "prior_role": render.role_ref(request, s.roles[prior]),
        "implies": [render.role_ref(request, s.roles[i]) for i in sorted(implied) if i in s.roles],
    }


async def list_implied(request: web.Request) -> web.Response:
    prior = path_id(request, "prior_id")
    await authorize(request, "identity:list_implied_roles", {})
    find(state(request).roles, prior, "role")
    implied = list(state(request).implied.get(prior, ()))
    return json({"role_inference": _inference(request, prior, implied)})


async def put_implied(request: web.Request) -> web.Response:
    prior, implied = path_id(request, "prior_id"), path_id(request, "implied_id")
    await authorize(request, "identity:create_implied_role", {})
    await run(request, lambda s, m: commands.imply_role(s, m, prior, implied))
    return json({"role_inference": _rule(request, prior, implied)}, 201)


async def check_implied(request: web.Request) -> web.Response:
    prior, implied = path_id(request, "prior_id"), path_id(request, "implied_id")
    await authorize(request, "identity:get_implied_role", {})
    find(state(request).roles, prior, "role")
    find(state(request).roles, implied, "role")
    if implied not in state(request).implied.get(prior, ()):
        raise web.HTTPNotFound(text=f"Role {prior} does not imply {implied}.")
    if request.method == "HEAD":
        return web.Response(status=204)
    return json({"role_inference": _rule(request, prior, implied)})


async def delete_implied(request: web.Request) -> web.Response:
    prior, implied = path_id(request, "prior_id"), path_id(request, "implied_id")
    await authorize(request, "identity:delete_implied_role", {})
    await run(request, lambda s, m: commands.unimply_role(s, m, prior, implied))
    return web.Response(status=204)


async def list_inferences(request: web.Request) -> web.Response:
    await authorize(request, "identity:list_role_inference_rules", {})
    s = state(request)
    rules = [
        _inference(request, p, list(i)) for p, i in sorted(s.implied.items()) if i and p in s.roles
    ]
    return json({"role_inferences": rules, "links": {"self": str(request.url)}})


# -- grants --------------------------------------------------------------------------


def _grant(request: web.Request, scope_type: str, actor_type: str,
           inherited: bool = False) -> Grant:  # fmt: skip
    scope_id = "all" if scope_type == "system" else path_id(request, "scope_id")
    return Grant(
        actor_type, path_id(request, "actor_id"), scope_type, scope_id,
        path_id(request, "role_id"), inherited,
    )  # fmt: skip


def _grant_target(g: Grant) -> dict[str, str]:
    return {f"target.{g.scope_type}.id": g.scope_id, f"target.{g.actor_type}.id": g.actor_id,
            "target.role.id": g.role_id}  # fmt: skip


def grant_handlers(scope_type: str, actor_type: str, inherited: bool = False) -> dict[str, Handler]:
    """PUT, HEAD/GET (check) and DELETE of one grant, and GET of an actor's roles;
    ``inherited``: the OS-INHERIT grants, which reach the projects below the scope."""

    async def assign(request: web.Request) -> web.Response:
        g = _grant(request, scope_type, actor_type, inherited)
        await authorize(request, "identity:create_grant", _grant_target(g))
        event = ev.RoleAssigned(**msgspec.structs.asdict(g))
        await run(request, lambda s, m: commands.assign_role(s, m, event))
        return web.Response(status=204)

    async def check(request: web.Request) -> web.Response:
        g = _grant(request, scope_type, actor_type, inherited)
        await authorize(request, "identity:check_grant", _grant_target(g))
        if g.key not in state(request).grants:
            raise web.HTTPNotFound(text=f"Could not find role assignment: {g.role_id}.")
        return web.Response(status=204)

    async def unassign(request: web.Request) -> web.Response:
        g = _grant(request, scope_type, actor_type, inherited)
        await authorize(request, "identity:revoke_grant", _grant_target(g))
        event = ev.RoleUnassigned(**msgspec.structs.asdict(g))
        await run(request, lambda s, m: commands.unassign_role(s, m, event))
        return web.Response(status=204)

    async def listing(request: web.Request) -> web.Response:
        actor_id = path_id(request, "actor_id")
        scope_id = "all" if scope_type == "system" else path_id(request, "scope_id")
        target = {f"target.{scope_type}.id": scope_id, f"target.{actor_type}.id": actor_id}
        await authorize(request, "identity:list_grants", target)
        s = state(request)
        ids = {
            g.role_id for g in s.grants.values()
            if (g.actor_type, g.actor_id, g.scope_type, g.scope_id, g.inherited)
            == (actor_type, actor_id, scope_type, scope_id, inherited)
        }  # fmt: skip
        items = [render.role(request, s.roles[r]) for r in sorted(ids) if r in s.roles]
        return json(render.collection(request, "roles", items))

    return {"PUT": assign, "HEAD": check, "GET": check, "DELETE": unassign, "LIST": listing}


# -- role assignments ------------------------------------------------------------------


async def role_assignments(request: web.Request) -> web.Response:
    q = request.query
    target = {}
    if "scope.domain.id" in q:
        target["target.domain_id"] = q["scope.domain.id"]
    elif "scope.project.id" in q and q["scope.project.id"] in state(request).projects:
        target["target.domain_id"] = state(request).projects[q["scope.project.id"]].domain_id
    await authorize(request, "identity:list_role_assignments", target)
    s = state(request)
    eff = query_bool(request, "effective") or False
    names = query_bool(request, "include_names") or False
    if "user.id" in q and "group.id" in q:
        raise HTTPFault.bad_request("Filter by user.id or group.id, not both.")
    scopes = [k for k in ("scope.project.id", "scope.domain.id", "scope.system") if k in q]
    if len(scopes) > 1:
        raise HTTPFault.bad_request("Filter by one scope only.")
    grants: list[Grant] = list(s.grants.values())
    if eff:
        grants = effective.effective_assignments(s, grants)
    if "group.id" in q and not eff:
        grants = [g for g in grants if g.actor_type == "group" and g.actor_id == q["group.id"]]
    if "user.id" in q:
        grants = [g for g in grants if g.actor_type == "user" and g.actor_id == q["user.id"]]
    if "role.id" in q:
        grants = [g for g in grants if g.role_id == q["role.id"]]
    if "scope.project.id" in q:
        projects = {q["scope.project.id"]}
        if query_bool(request, "include_subtree"):
            # the project and every project below it (Keystone's include_subtree)
            projects |= {
                p for p in s.projects if q["scope.project.id"] in effective.ancestors(s, p)
            }
        grants = [g for g in grants if g.scope_type == "project" and g.scope_id in projects]
    elif query_bool(request, "include_subtree"):
        raise HTTPFault.bad_request("include_subtree needs scope.project.id.")
    if "scope.domain.id" in q:
        grants = [
            g for g in grants if (g.scope_type, g.scope_id) == ("domain", q["scope.domain.id"])
        ]
    if "scope.system" in q:
        grants = [g for g in grants if g.scope_type == "system"]
    if "scope.OS-INHERIT:inherited_to" in q:
        grants = [g for g in grants if g.inherited]
    items = [render.assignment(request, s, g, names) for g in sorted(grants, key=_order)]
    return json(render.collection(request, "role_assignments", items))


def _order(g: Grant) -> str:
    return grant_key(g.actor_type, g.actor_id, g.scope_type, g.scope_id, g.role_id, g.inherited)
