"""``/v3/users/{user_id}/application_credentials`` and ``/v3/users/{user_id}/access_rules``.

An application credential may carry access rules (``service`` type, HTTP
``method``, ``path`` with ``*`` for one segment and ``**`` for any): its tokens
may then make only the requests one of them allows (:func:`request_allowed`,
checked by the token middleware for every service). A rule identical to one
the user has is reused; rules are listed, shown and deleted (not while in use).
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.identity import render
from cairn.api.identity.auth import authorize
from cairn.api.identity.common import Name, Password, Text, identity, json, path_id, run, state
from cairn.events import identity as ev
from cairn.identity.appcreds import create_app_cred, delete_access_rule, delete_app_cred
from cairn.identity.decide import new_id
from cairn.identity.errors import Forbidden, NotFound
from cairn.projections.identity import AccessRule, AppCredential, IdentityState


class RoleRef(msgspec.Struct):
    id: Name | None = None
    name: Name | None = None


Method = Literal["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE"]
RulePath = Annotated[str, msgspec.Meta(min_length=1, max_length=255, pattern=r"^/")]


class RuleRef(msgspec.Struct):
    id: Name | None = None
    service: Name | None = None
    method: Method | None = None
    path: RulePath | None = None


class NewAppCred(msgspec.Struct):
    name: Name
    description: Text | None = None
    secret: Password | None = None
    expires_at: Name | None = None
    roles: list[RoleRef] | None = None
    unrestricted: bool = False
    access_rules: list[RuleRef] = []


class AppCredBody(msgspec.Struct):
    application_credential: NewAppCred


def _rule(rule: AccessRule) -> dict[str, Any]:
    return {"id": rule.id, "service": rule.service, "method": rule.method, "path": rule.path}


def _rules(request: web.Request, user_id: str,
           refs: list[RuleRef]) -> tuple[list[str], list[ev.AccessRuleCreated]]:  # fmt: skip
    """The ids of the rules ``refs`` name, and the new rules among them."""
    have = [r for r in state(request).access_rules.values() if r.user_id == user_id]
    ids: list[str] = []
    new: list[ev.AccessRuleCreated] = []
    for ref in refs:
        if ref.id is not None:
            ids.append(ref.id)
            continue
        if ref.service is None or ref.method is None or ref.path is None:
            raise HTTPFault.bad_request("An access rule needs an id, or service, method and path.")
        wanted = (ref.service, ref.method, ref.path)
        same = [r.id for r in have if (r.service, r.method, r.path) == wanted]
        same += [r.access_rule_id for r in new if (r.service, r.method, r.path) == wanted]
        if same:
            ids.append(same[0])
            continue
        rule = ev.AccessRuleCreated(
            access_rule_id=new_id(), user_id=user_id, service=ref.service, method=ref.method,
            path=ref.path,
        )  # fmt: skip
        new.append(rule)
        ids.append(rule.access_rule_id)
    return list(dict.fromkeys(ids)), new


def _glob(path: str) -> re.Pattern[str]:
    parts = []
    for piece in re.split(r"(\*\*|\*)", path):
        parts.append(".*" if piece == "**" else "[^/]*" if piece == "*" else re.escape(piece))
    return re.compile("".join(parts))


def request_allowed(state: IdentityState, cred: AppCredential, method: str, path: str) -> bool:
    """Whether a token of ``cred`` may make this request: always without access
    rules; else when a rule names the service whose catalog endpoint the path is
    under (by its first segment), the method, and the path below that prefix."""
    if not cred.access_rule_ids:
        return True
    prefix, _, rest = path.lstrip("/").partition("/")
    types = {
        s.type for e in state.endpoints.values() if (s := state.services.get(e.service_id))
        and urlsplit(e.url).path.strip("/").split("/", 1)[0] == prefix
    }  # fmt: skip
    below = "/" + rest
    for rule_id in cred.access_rule_ids:
        rule = state.access_rules.get(rule_id)
        if rule is None or rule.service not in types:
            continue
        if rule.method in (method, "GET" if method == "HEAD" else method) and _glob(
            rule.path
        ).fullmatch(below.rstrip("/") or "/"):
            return True
    return False


def _path(cred: AppCredential) -> str:
    return f"/users/{cred.user_id}/application_credentials/{cred.id}"


def _render(request: web.Request, cred: AppCredential, secret: str | None = None) -> dict[str, Any]:
    s = state(request)
    body: dict[str, Any] = {
        "id": cred.id, "name": cred.name, "description": cred.description,
        "user_id": cred.user_id, "project_id": cred.project_id,
        "expires_at": None if cred.expires_at is None else _expiry_text(cred.expires_at),
        "unrestricted": cred.unrestricted,
        "access_rules": [_rule(s.access_rules[r]) for r in cred.access_rule_ids
                         if r in s.access_rules],
        "roles": [{"id": r, "name": s.roles[r].name, "domain_id": None}
                  for r in cred.role_ids if r in s.roles],
        "links": {"self": render.v3_url(request, _path(cred))},
    }  # fmt: skip
    if secret is not None:
        body["secret"] = secret
    return body


def _expiry_text(epoch: float) -> str:
    """Keystone's form for an expiry: naive UTC, microseconds, no zone."""
    moment = datetime.fromtimestamp(round(epoch, 6), UTC).replace(tzinfo=None)
    return moment.isoformat(timespec="microseconds")


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


async def create(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    who = await authorize(
        request, "identity:create_application_credential", {"target.user.id": user_id}
    )
    if who.project_id is None:
        raise Forbidden("An application credential is made with a project-scoped token.")
    if who.payload.app_cred_id is not None:
        parent = state(request).app_credentials.get(who.payload.app_cred_id)
        if parent is None or not parent.unrestricted:
            raise Forbidden("A restricted application credential cannot make another.")
    body = (await read_json(request, AppCredBody)).application_credential
    role_ids = _role_ids(request, body.roles) if body.roles else sorted(who.role_ids)
    rule_ids, new_rules = _rules(request, user_id, body.access_rules)
    secret = body.secret or secrets.token_urlsafe(48)
    hashed = await identity(request).hasher.hash(secret)
    event = ev.ApplicationCredentialCreated(
        app_cred_id=new_id(), user_id=user_id, project_id=who.project_id, name=body.name,
        secret_hash=hashed, role_ids=role_ids, description=body.description or "",
        expires_at=_expiry(body.expires_at), unrestricted=body.unrestricted,
        access_rule_ids=rule_ids,
    )  # fmt: skip
    await run(request, lambda s, m: create_app_cred(s, m, event, new_rules))
    cred = state(request).app_credentials[event.app_cred_id]
    return json({"application_credential": _render(request, cred, secret)}, 201)


async def listing(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    await authorize(request, "identity:list_application_credentials", {"target.user.id": user_id})
    creds = [c for c in state(request).app_credentials.values() if c.user_id == user_id]
    if "name" in request.query:
        creds = [c for c in creds if c.name == request.query["name"]]
    items = [_render(request, c) for c in sorted(creds, key=lambda c: c.name)]
    return json({"application_credentials": items, "links": {"self": str(request.url)}})


def _own(request: web.Request, user_id: str, cred_id: str) -> AppCredential:
    cred = state(request).app_credentials.get(cred_id)
    if cred is None or cred.user_id != user_id:
        raise NotFound("application credential", cred_id)
    return cred


async def show(request: web.Request) -> web.Response:
    user_id, cred_id = path_id(request, "user_id"), path_id(request, "cred_id")
    await authorize(request, "identity:get_application_credential", {"target.user.id": user_id})
    return json({"application_credential": _render(request, _own(request, user_id, cred_id))})


async def remove(request: web.Request) -> web.Response:
    user_id, cred_id = path_id(request, "user_id"), path_id(request, "cred_id")
    await authorize(request, "identity:delete_application_credential", {"target.user.id": user_id})
    await run(request, lambda s, m: delete_app_cred(s, m, user_id, cred_id))
    return web.Response(status=204)


# -- access rules ------------------------------------------------------------------------


async def list_rules(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    await authorize(request, "identity:list_access_rules", {"target.user.id": user_id})
    rules = [r for r in state(request).access_rules.values() if r.user_id == user_id]
    items = [_rule(r) for r in sorted(rules, key=lambda r: r.id)]
    return json({"access_rules": items, "links": {"self": str(request.url)}})


def _own_rule(request: web.Request, user_id: str) -> AccessRule:
    rule = state(request).access_rules.get(path_id(request, "rule_id"))
    if rule is None or rule.user_id != user_id:
        raise NotFound("access rule", request.match_info["rule_id"])
    return rule


async def show_rule(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    await authorize(request, "identity:get_access_rule", {"target.user.id": user_id})
    return json({"access_rule": _rule(_own_rule(request, user_id))})


async def delete_rule(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    await authorize(request, "identity:delete_access_rule", {"target.user.id": user_id})
    rule_id = _own_rule(request, user_id).id
    await run(request, lambda s, m: delete_access_rule(s, m, user_id, rule_id))
    return web.Response(status=204)
