"""``/v3/auth``: issue, validate, check and revoke tokens; what a token may reach."""

from __future__ import annotations

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.identity import render
from cairn.api.identity.auth import authorize, caller, metadata
from cairn.api.identity.common import encode_json, json
from cairn.api.identity.faults import unauthorized
from cairn.api.identity.keys import IDENTITY
from cairn.events import identity as ev
from cairn.events import stream_name
from cairn.identity import roles
from cairn.identity.authn import Authenticator, AuthRequest
from cairn.identity.errors import Unauthorized
from cairn.identity.service import Authenticated

SUBJECT = "X-Subject-Token"


def _flag(request: web.Request, name: str) -> bool:
    value = request.query.get(name)
    return value is not None and value.lower() not in ("0", "false", "no")


async def issue(request: web.Request) -> web.Response:
    body = await read_json(request, AuthRequest)
    identity = request.config_dict[IDENTITY]
    who = await Authenticator(identity).authenticate(body.auth, request.remote)
    document = render.token(identity.state, who, _catalog(request, who))
    return json(document, status=201, headers={SUBJECT: who.token})


def cached_catalog(request: web.Request, project_id: str | None) -> list[render.Json]:
    identity = request.config_dict[IDENTITY]
    key = ("catalog", project_id)
    return identity.memo(key, lambda: render.service_catalog(identity.state, project_id))


def _catalog(request: web.Request, who: Authenticated) -> list[render.Json] | None:
    """The catalog a token body carries: none for unscoped tokens or ``?nocatalog``."""
    if not who.payload.scope_type or _flag(request, "nocatalog"):
        return None
    return cached_catalog(request, who.project_id)


def _subject(request: web.Request) -> Authenticated:
    token = request.headers.get(SUBJECT)
    if not token:
        raise unauthorized(request, "The X-Subject-Token header is required.")
    identity = request.config_dict[IDENTITY]
    try:
        return identity.validate(token, allow_expired=_flag(request, "allow_expired"))
    except Unauthorized as exc:
        raise web.HTTPNotFound(text=f"Could not find token: {exc}") from None


def _target(subject: Authenticated) -> dict[str, str]:
    return {"target.token.user_id": subject.user_id}


async def validate(request: web.Request) -> web.Response:
    caller(request)
    subject = _subject(request)
    rule = "identity:check_token" if request.method == "HEAD" else "identity:validate_token"
    await authorize(request, rule, _target(subject))
    identity = request.config_dict[IDENTITY]
    catalog = _catalog(request, subject)

    def encode() -> bytes:
        return encode_json(render.token(identity.state, subject, catalog))

    body = identity.memo(("token-body", subject.token, catalog is None), encode)
    return web.Response(
        body=body, content_type="application/json", headers={SUBJECT: subject.token}
    )


async def revoke(request: web.Request) -> web.Response:
    caller(request)
    subject = _subject(request)
    await authorize(request, "identity:revoke_token", _target(subject))
    identity = request.config_dict[IDENTITY]
    event = ev.TokenRevoked(audit_id=subject.payload.audit_id, user_id=subject.user_id)
    position = await identity.record(
        event, metadata(request), stream_name("revocation", subject.user_id)
    )
    # Read your own revocation: this process refuses the token from now on.
    await identity.runner.wait_for(position)
    return web.Response(status=204)


async def auth_catalog(request: web.Request) -> web.Response:
    who = caller(request)
    catalog = cached_catalog(request, who.project_id) if who.payload.scope_type else []
    return json({"catalog": catalog, "links": {"self": str(request.url)}})


async def auth_projects(request: web.Request) -> web.Response:
    who = caller(request)
    state = request.config_dict[IDENTITY].state
    ids = roles.scopes_with_roles(state, who.user_id, "project")
    items = [
        render.project(request, state.projects[i])
        for i in sorted(ids)
        if i in state.projects and state.projects[i].enabled
    ]
    return json(render.collection(request, "projects", items))


async def auth_domains(request: web.Request) -> web.Response:
    who = caller(request)
    state = request.config_dict[IDENTITY].state
    ids = roles.scopes_with_roles(state, who.user_id, "domain")
    items = [
        render.domain(request, state.domains[i])
        for i in sorted(ids)
        if i in state.domains and state.domains[i].enabled
    ]
    return json(render.collection(request, "domains", items))


async def auth_system(request: web.Request) -> web.Response:
    who = caller(request)
    state = request.config_dict[IDENTITY].state
    has = bool(roles.effective_role_ids(state, who.user_id, "system", "all"))
    return json({"system": [{"all": True}] if has else [], "links": {"self": str(request.url)}})
