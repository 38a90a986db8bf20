"""Keystone v3's JSON shapes, from the identity read model."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from cairn.identity.service import Authenticated
from cairn.projections.identity import (
    Domain,
    Endpoint,
    Grant,
    Group,
    IdentityState,
    Project,
    Region,
    Role,
    Service,
    User,
)

Json = dict[str, Any]


def timestamp(epoch: float) -> str:
    """Keystone's form, which keystoneauth parses: ``2026-11-21T10:00:00.000000Z``."""
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def v3_url(request: web.Request, path: str = "") -> str:
    return f"{request.url.origin()}/identity/v3{path}"


def _links(request: web.Request, path: str) -> Json:
    return {"self": v3_url(request, path)}


def collection(request: web.Request, key: str, items: list[Json]) -> Json:
    return {key: items, "links": {"self": str(request.url), "previous": None, "next": None}}


def domain(request: web.Request, d: Domain) -> Json:
    return {
        "id": d.id, "name": d.name, "description": d.description, "enabled": d.enabled,
        "tags": [], "options": {}, "links": _links(request, f"/domains/{d.id}"),
    }  # fmt: skip


def project(request: web.Request, p: Project) -> Json:
    return {
        "id": p.id, "name": p.name, "domain_id": None if p.is_domain else p.domain_id,
        "description": p.description,
        "enabled": p.enabled, "is_domain": p.is_domain,
        "parent_id": None if p.is_domain else p.parent_id or p.domain_id,
        "tags": list(p.tags), "options": {}, "links": _links(request, f"/projects/{p.id}"),
    }  # fmt: skip


def user(request: web.Request, u: User) -> Json:
    body: Json = {**u.extra}
    body |= {
        "id": u.id, "name": u.name, "domain_id": u.domain_id, "enabled": u.enabled,
        "password_expires_at": None, "options": {}, "links": _links(request, f"/users/{u.id}"),
    }  # fmt: skip
    if u.default_project_id:
        body["default_project_id"] = u.default_project_id
    if u.description:
        body["description"] = u.description
    if u.email:
        body["email"] = u.email
    return body


def group(request: web.Request, g: Group) -> Json:
    return {
        "id": g.id, "name": g.name, "domain_id": g.domain_id, "description": g.description,
        "links": _links(request, f"/groups/{g.id}"),
    }  # fmt: skip


def role(request: web.Request, r: Role) -> Json:
    return {
        "id": r.id, "name": r.name, "domain_id": r.domain_id, "description": r.description,
        "options": {}, "links": _links(request, f"/roles/{r.id}"),
    }  # fmt: skip


def role_ref(request: web.Request, r: Role) -> Json:
    return {"id": r.id, "name": r.name, "links": _links(request, f"/roles/{r.id}")}


def region(request: web.Request, r: Region) -> Json:
    return {
        "id": r.id, "description": r.description, "parent_region_id": r.parent_region_id,
        "links": _links(request, f"/regions/{r.id}"),
    }  # fmt: skip


def service(request: web.Request, s: Service) -> Json:
    return {
        "id": s.id, "type": s.type, "name": s.name, "description": s.description,
        "enabled": s.enabled, "links": _links(request, f"/services/{s.id}"),
    }  # fmt: skip


def endpoint(request: web.Request, e: Endpoint) -> Json:
    return {
        "id": e.id, "interface": e.interface, "region": e.region_id, "region_id": e.region_id,
        "service_id": e.service_id, "url": e.url, "enabled": e.enabled,
        "links": _links(request, f"/endpoints/{e.id}"),
    }  # fmt: skip


def _domain_ref(state: IdentityState, domain_id: str) -> Json:
    d = state.domains.get(domain_id)
    return {"id": domain_id, "name": d.name if d else None}


def assignment(request: web.Request, state: IdentityState, g: Grant, names: bool) -> Json:
    actor: Json = {"id": g.actor_id}
    if names:
        a = state.users.get(g.actor_id) if g.actor_type == "user" else state.groups.get(g.actor_id)
        if a is not None:
            actor.update(name=a.name, domain=_domain_ref(state, a.domain_id))
    target: Json = {"id": g.scope_id}
    if names and g.scope_type == "project" and g.scope_id in state.projects:
        p = state.projects[g.scope_id]
        target.update(name=p.name, domain=_domain_ref(state, p.domain_id))
    elif names and g.scope_type == "domain":
        target.update(_domain_ref(state, g.scope_id))
    role_body: Json = {"id": g.role_id}
    if names and g.role_id in state.roles:
        role_body["name"] = state.roles[g.role_id].name
    scope: Json = {"system": {"all": True}} if g.scope_type == "system" else {g.scope_type: target}
    if g.inherited:
        scope["OS-INHERIT:inherited_to"] = "projects"
    path = f"/{g.scope_type}s/{g.scope_id}/{g.actor_type}s/{g.actor_id}/roles/{g.role_id}"
    if g.scope_type == "system":
        path = f"/system/{g.actor_type}s/{g.actor_id}/roles/{g.role_id}"
    return {
        "role": role_body, g.actor_type: actor, "scope": scope,
        "links": {"assignment": v3_url(request, path)},
    }  # fmt: skip


def project_endpoints(state: IdentityState, project_id: str | None) -> list[Endpoint]:
    """The endpoints of a project's catalog (OS-EP-FILTER): those associated with
    the project, directly or by an endpoint group, once it has any association;
    every endpoint before that (Keystone's ``return_all_endpoints_if_no_filter``)."""
    key = project_id or ""
    direct = state.project_endpoints.get(key, set())
    group_ids = state.project_endpoint_groups.get(key, set())
    groups = [state.endpoint_groups[g] for g in group_ids if g in state.endpoint_groups]
    if not direct and not groups:
        return list(state.endpoints.values())
    return [e for e in state.endpoints.values()
            if e.id in direct or any(g.matches(e) for g in groups)]  # fmt: skip


def service_catalog(state: IdentityState, project_id: str | None) -> list[Json]:
    """The service catalog; ``$(project_id)s`` in a URL is the token's project, and
    endpoints that need one are left out of tokens without a project."""
    services: dict[str, Json] = {}
    for e in project_endpoints(state, project_id):
        s = state.services.get(e.service_id)
        if s is None or not s.enabled or not e.enabled:
            continue
        url = e.url
        if "$(project_id)s" in url or "%(project_id)s" in url:
            if project_id is None:
                continue
            url = url.replace("$(project_id)s", project_id).replace("%(project_id)s", project_id)
        entry = services.setdefault(
            s.id, {"id": s.id, "type": s.type, "name": s.name, "endpoints": []}
        )
        entry["endpoints"].append(
            {"id": e.id, "interface": e.interface, "region": e.region_id,
             "region_id": e.region_id, "url": url}
        )  # fmt: skip
    return list(services.values())


def token(state: IdentityState, who: Authenticated, catalog: list[Json] | None) -> Json:
    """A token's body; ``catalog`` is left out when ``None`` (``?nocatalog``)."""
    p = who.payload
    body: Json = {
        "methods": list(p.methods),
        "user": {
            "id": who.user.id, "name": who.user.name,
            "domain": _domain_ref(state, who.user.domain_id), "password_expires_at": None,
        },
        "audit_ids": p.audit_ids,
        "issued_at": timestamp(p.issued_at),
        "expires_at": timestamp(p.expires_at),
    }  # fmt: skip
    if p.scope_type == "project":
        pr = state.projects[p.scope_id]
        body["project"] = {"id": pr.id, "name": pr.name, "domain": _domain_ref(state, pr.domain_id)}
        body["is_domain"] = False
    elif p.scope_type == "domain":
        body["domain"] = _domain_ref(state, p.scope_id)
    elif p.scope_type == "system":
        body["system"] = {"all": True}
    if p.scope_type:
        body["roles"] = [
            {"id": r, "name": state.roles[r].name} for r in sorted(who.role_ids) if r in state.roles
        ]
        if catalog is not None:
            body["catalog"] = catalog
    if p.app_cred_id is not None and p.app_cred_id in state.app_credentials:
        cred = state.app_credentials[p.app_cred_id]
        body["application_credential"] = {
            "id": cred.id,
            "name": cred.name,
            "restricted": not cred.unrestricted,
        }
    if p.trust_id is not None and p.trust_id in state.trusts:
        t = state.trusts[p.trust_id]
        body["OS-TRUST:trust"] = {
            "id": t.id, "impersonation": t.impersonation,
            "trustor_user": {"id": t.trustor_user_id}, "trustee_user": {"id": t.trustee_user_id},
        }  # fmt: skip
    return {"token": body}
