"""``/v3/OS-TRUST/trusts``: trusts, as Keystone's api-ref has them (the decisions
are :mod:`cairn.identity.trusts`; trust-scoped tokens :mod:`cairn.identity.authn`).

Only the trustor makes a trust (with a token of its own); the trustor, the
trustee and admins see it; the trustor or an admin deletes it. Trusts are not
updated. Lists of a non-admin must name themselves as trustor or trustee.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.identity import render
from cairn.api.identity.auth import authorize
from cairn.api.identity.common import Name, identity, json, path_id, run, state
from cairn.events import identity as ev
from cairn.identity import trusts
from cairn.identity.decide import find, new_id
from cairn.identity.errors import Forbidden, NotFound
from cairn.projections.identity import Trust


class RoleRef(msgspec.Struct):
    id: Name | None = None
    name: Name | None = None


class NewTrust(msgspec.Struct):
    trustor_user_id: Name
    trustee_user_id: Name
    impersonation: bool
    project_id: Name | None = None
    roles: list[RoleRef] = []
    expires_at: Name | None = None
    remaining_uses: int | None = None
    allow_redelegation: bool = False


class TrustBody(msgspec.Struct):
    trust: NewTrust


def _expiry(text: str | None) -> float | None:
    if text is None:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPFault.bad_request(
            f"Invalid expires_at {text!r}: expected an ISO 8601 time."
        ) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _role_ids(request: web.Request, refs: list[RoleRef]) -> list[str]:
    s = state(request)
    found = []
    for ref in refs:
        if ref.id is not None and ref.id in s.roles:
            found.append(ref.id)
        elif ref.name is not None:
            role = next((r for r in s.roles.values() if r.name == ref.name), None)
            if role is None:
                raise NotFound("role", ref.name)
            found.append(role.id)
        else:
            raise NotFound("role", str(ref.id))
    return found


def _role(request: web.Request, role_id: str) -> dict[str, Any]:
    role = state(request).roles[role_id]
    return {"id": role.id, "name": role.name,
            "links": {"self": render.v3_url(request, f"/roles/{role.id}")}}  # fmt: skip


def _render(request: web.Request, t: Trust) -> dict[str, Any]:
    return {
        "id": t.id, "trustor_user_id": t.trustor_user_id, "trustee_user_id": t.trustee_user_id,
        "project_id": t.project_id, "impersonation": t.impersonation,
        "expires_at": None if t.expires_at is None else render.timestamp(t.expires_at),
        "remaining_uses": t.remaining_uses, "allow_redelegation": t.allow_redelegation,
        "roles": [_role(request, r) for r in t.role_ids if r in state(request).roles],
        "roles_links": {"self": None, "previous": None, "next": None},
        "links": {"self": render.v3_url(request, f"/OS-TRUST/trusts/{t.id}")},
    }  # fmt: skip


async def create_trust(request: web.Request) -> web.Response:
    who = await authorize(request, "identity:create_trust", {})
    body = (await read_json(request, TrustBody)).trust
    if body.trustor_user_id != who.user_id:
        raise Forbidden("Only the trustor may make a trust, with a token of its own.")
    if body.project_id is None:
        raise HTTPFault.bad_request("A trust names the project whose roles it delegates.")
    event = ev.TrustCreated(
        trust_id=new_id(), trustor_user_id=body.trustor_user_id,
        trustee_user_id=body.trustee_user_id, project_id=body.project_id,
        role_ids=_role_ids(request, body.roles), impersonation=body.impersonation,
        expires_at=_expiry(body.expires_at), remaining_uses=body.remaining_uses,
        allow_redelegation=body.allow_redelegation,
    )  # fmt: skip
    now = time.time()
    await run(request, lambda s, m: trusts.create_trust(s, m, event, now))
    return json({"trust": _render(request, state(request).trusts[event.trust_id])}, 201)


def _may_see(request: web.Request, trust: Trust, user_id: str, admin: bool) -> None:
    if not admin and user_id not in (trust.trustor_user_id, trust.trustee_user_id):
        raise NotFound("trust", trust.id)


async def _trust(request: web.Request, rule: str) -> Trust:
    trust_id = path_id(request, "trust_id")
    who = await authorize(request, rule, {})
    trust = find(state(request).trusts, trust_id, "trust")
    _may_see(request, trust, who.user_id, identity(request).allowed("admin_required", who, {}))
    return trust


async def list_trusts(request: web.Request) -> web.Response:
    who = await authorize(request, "identity:list_trusts", {})
    admin = identity(request).allowed("admin_required", who, {})
    q = request.query
    named = {q.get("trustor_user_id"), q.get("trustee_user_id")} - {None}
    if not admin and who.user_id not in named:
        raise Forbidden("List the trusts you are trustor or trustee of (trustor_user_id=...).")
    keys = [k for k in ("trustor_user_id", "trustee_user_id") if k in q]
    items = [t for t in state(request).trusts.values() if all(q[k] == getattr(t, k) for k in keys)]
    body = [{k: v for k, v in _render(request, t).items() if k not in ("roles", "roles_links")}
            for t in sorted(items, key=lambda t: t.id)]  # fmt: skip
    return json(render.collection(request, "trusts", body))


async def get_trust(request: web.Request) -> web.Response:
    trust = await _trust(request, "identity:get_trust")
    return json({"trust": _render(request, trust)})


async def delete_trust(request: web.Request) -> web.Response:
    trust = await _trust(request, "identity:delete_trust")
    who = await authorize(request, "identity:delete_trust", {})  # the caller, again
    if who.user_id != trust.trustor_user_id and not identity(request).allowed(
        "admin_required", who, {}
    ):
        raise Forbidden("Only the trustor or an admin deletes a trust.")
    await run(request, lambda s, m: trusts.delete_trust(s, m, trust.id))
    return web.Response(status=204)


async def trust_roles(request: web.Request) -> web.Response:
    trust = await _trust(request, "identity:list_roles_for_trust")
    items = [_role(request, r) for r in trust.role_ids if r in state(request).roles]
    return json(render.collection(request, "roles", items))


async def trust_role(request: web.Request) -> web.Response:
    trust = await _trust(request, "identity:get_role_for_trust")
    role_id = path_id(request, "role_id")
    if role_id not in trust.role_ids or role_id not in state(request).roles:
        raise NotFound("role in trust", role_id)
    if request.method == "HEAD":
        return web.Response(status=200)
    return json({"role": _role(request, role_id)})
