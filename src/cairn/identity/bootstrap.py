"""The first start: the Default domain, the roles, the admin and demo projects and
users, and the catalog of the services this process serves; and ``clouds.yaml``
for the CLI.

Bootstrap is idempotent: each start adds what is missing and brings the
catalog's URLs in line with the address the cloud now answers on, so the
catalog of Cairn's own services follows ``--listen``.

The catalog is derived from the services mounted in the process (each
:class:`cairn.api.services.Service` declares its ``catalog`` entries): a client
that reads the catalog must never be sent to an endpoint that answers 404. So
an entry an earlier start made for one of Cairn's own service types that is no
longer served here is removed (endpoints first, then the service); entries an
operator added for a service elsewhere (another type, or a URL outside Cairn's
prefixes) are left alone.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from cairn.events import NO_STREAM, DomainEvent, Metadata, NewEvent, registry, stream_name
from cairn.events import identity as ev
from cairn.identity.config import IdentityConfig
from cairn.identity.decide import claim, grant_stream_id, new_id
from cairn.identity.service import Identity
from cairn.projections.identity import IdentityState, grant_key
from cairn.store.port import StreamWrite

DEFAULT_DOMAIN = "default"
#: Keystone's bootstrap roles since 2024.1 (``manager`` between admin and member;
#: clouds made before it keep their admin -> member rule, which changes nothing).
ROLES = ("admin", "manager", "member", "reader", "service", "ResellerAdmin")
IMPLIES = (("admin", "manager"), ("manager", "member"), ("member", "reader"))
#: A catalog entry: service type, name, path under the cloud's URL.
CatalogEntries = Sequence[tuple[str, str, str]]
#: Service types Cairn serves or has served under its own prefixes (DevStack's
#: layout): an entry of one of these that this process does not serve is stale.
OWN_TYPES = frozenset(
    {
        "identity",
        "compute",
        "image",
        "network",
        "block-storage",
        "volumev3",
        "object-store",
        "orchestration",
        "dashboard",
        "events",
    }
)
INTERFACES = ("public", "internal", "admin")
META = Metadata(user_id="cairn-bootstrap")


@dataclass
class Plan:
    """Events to append, gathered per stream, in one atomic append."""

    state: IdentityState
    writes: dict[str, tuple[int, list[NewEvent]]] = field(default_factory=dict)
    claims: list[StreamWrite] = field(default_factory=list)

    def add(self, category: str, ident: str, event: DomainEvent) -> None:
        stream = stream_name(category, ident)
        expected = self.state.versions.get(stream, NO_STREAM)
        self.writes.setdefault(stream, (expected, []))[1].append(registry.new(event, META))

    def claim(self, kind: str, scope: str, name: str, owner: str) -> None:
        self.claims.append(claim(self.state, kind, scope, name, owner, META))

    def result(self) -> list[StreamWrite]:
        made = [StreamWrite(s, events, v) for s, (v, events) in self.writes.items()]
        return [*self.claims, *made] if made else []


@dataclass(frozen=True)
class Secrets:
    """Password hashes for users bootstrap may create or reset (made before deciding)."""

    admin_hash: str | None
    demo_hash: str | None
    reset_admin: bool


def decide(
    s: IdentityState,
    base_url: str,
    region: str,
    pw: Secrets,
    now: float,
    catalog: CatalogEntries = (),
    own_prefixes: Sequence[str] = (),
) -> list[StreamWrite]:
    plan = Plan(s)
    if DEFAULT_DOMAIN not in s.domains:
        plan.claim("domain", "", "Default", DEFAULT_DOMAIN)
        plan.add(
            "domain",
            DEFAULT_DOMAIN,
            ev.DomainCreated(
                domain_id=DEFAULT_DOMAIN, name="Default", description="The default domain"
            ),
        )
    roles = {r.name: r.id for r in s.roles.values() if r.domain_id is None}
    for name in ROLES:
        if name not in roles:
            roles[name] = new_id()
            plan.claim("role", "", name, roles[name])
            plan.add("role", roles[name], ev.RoleCreated(role_id=roles[name], name=name))
    for prior, implied in IMPLIES:
        if roles[implied] not in s.implied.get(roles[prior], ()):
            plan.add(
                "role",
                roles[prior],
                ev.RoleImplied(prior_role_id=roles[prior], implied_role_id=roles[implied]),
            )
    projects = {p.name: p.id for p in s.projects.values() if p.domain_id == DEFAULT_DOMAIN}
    for name in ("admin", "demo", "service"):
        if name not in projects:
            projects[name] = new_id()
            plan.claim("project", DEFAULT_DOMAIN, name, projects[name])
            plan.add(
                "project",
                projects[name],
                ev.ProjectCreated(
                    project_id=projects[name],
                    domain_id=DEFAULT_DOMAIN,
                    name=name,
                    description=f"Bootstrap project {name}",
                ),
            )
    users = {u.name: u.id for u in s.users.values() if u.domain_id == DEFAULT_DOMAIN}
    for name, hashed in (("admin", pw.admin_hash), ("demo", pw.demo_hash)):
        if name not in users:
            users[name] = new_id()
            plan.claim("user", DEFAULT_DOMAIN, name, users[name])
            plan.add(
                "user",
                users[name],
                ev.UserCreated(
                    user_id=users[name],
                    domain_id=DEFAULT_DOMAIN,
                    name=name,
                    password_hash=hashed,
                    default_project_id=projects[name],
                ),
            )
        elif name == "admin" and pw.reset_admin and hashed is not None:
            plan.add(
                "user",
                users[name],
                ev.UserPasswordChanged(user_id=users[name], password_hash=hashed, at=now),
            )
    for user, scope_type, scope_id, role in (
        ("admin", "project", projects["admin"], "admin"),
        ("admin", "system", "all", "admin"),
        ("demo", "project", projects["demo"], "member"),
    ):
        grant = ev.RoleAssigned(
            actor_type="user",
            actor_id=users[user],
            scope_type=scope_type,
            scope_id=scope_id,
            role_id=roles[role],
        )
        key = grant_key("user", users[user], scope_type, scope_id, roles[role], False)
        if key not in s.grants:
            plan.add("grant", grant_stream_id(key), grant)
    _catalog(plan, base_url, region, catalog, own_prefixes)
    return plan.result()


def _own_path(url: str, prefixes: Sequence[str]) -> bool:
    path = urlsplit(url).path
    return any(path == p or path.startswith(p + "/") for p in prefixes)


def _retire(plan: Plan, catalog: CatalogEntries, prefixes: Sequence[str]) -> None:
    """Remove Cairn's own catalog entries for services this process does not serve."""
    s = plan.state
    served = {kind for kind, _, _ in catalog}
    for service in list(s.services.values()):
        if service.type not in OWN_TYPES or service.type in served:
            continue
        endpoints = [e for e in s.endpoints.values() if e.service_id == service.id]
        if not all(_own_path(e.url, prefixes) for e in endpoints):
            continue  # an operator's entry for a service that runs elsewhere
        for endpoint in endpoints:
            plan.add("endpoint", endpoint.id, ev.EndpointDeleted(endpoint_id=endpoint.id))
        plan.add("service", service.id, ev.ServiceDeleted(service_id=service.id))


def _catalog(
    plan: Plan, base_url: str, region: str, catalog: CatalogEntries, prefixes: Sequence[str]
) -> None:
    s = plan.state
    if region not in s.regions:
        plan.add("region", region, ev.RegionCreated(region_id=region))
    _retire(plan, catalog, prefixes)
    for kind, name, path in catalog:
        service = next((x for x in s.services.values() if x.type == kind), None)
        service_id = service.id if service else new_id()
        if service is None:
            plan.add(
                "service",
                service_id,
                ev.ServiceCreated(service_id=service_id, type=kind, name=name),
            )
        url = base_url + path
        for interface in INTERFACES if kind == "identity" else INTERFACES[:2]:
            found = next(
                (
                    e
                    for e in s.endpoints.values()
                    if e.service_id == service_id
                    and e.interface == interface
                    and e.region_id == region
                ),
                None,
            )
            if found is None:
                endpoint_id = new_id()
                plan.add(
                    "endpoint",
                    endpoint_id,
                    ev.EndpointCreated(
                        endpoint_id=endpoint_id,
                        service_id=service_id,
                        interface=interface,
                        url=url,
                        region_id=region,
                    ),
                )
            elif found.url != url:
                plan.add(
                    "endpoint",
                    found.id,
                    ev.EndpointUpdated(
                        endpoint_id=found.id,
                        service_id=service_id,
                        interface=interface,
                        url=url,
                        region_id=region,
                        enabled=found.enabled,
                    ),
                )


def generate_password() -> str:
    return secrets.token_urlsafe(18)


def _load_clouds(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError):
        return {}
    return loaded if isinstance(loaded, dict) else {}


def _known_password(clouds: dict[str, Any], cloud: str) -> str | None:
    try:
        password = clouds["clouds"][cloud]["auth"]["password"]
    except (KeyError, TypeError):
        return None
    return password if isinstance(password, str) else None


@dataclass(frozen=True)
class Outcome:
    #: the admin password, when it was generated by this start (to show once)
    generated_admin_password: str | None
    clouds_yaml: Path


async def bootstrap(
    identity: Identity,
    config: IdentityConfig,
    catalog: CatalogEntries = (),
    own_prefixes: Sequence[str] = (),
) -> Outcome:
    """Create what is missing, list ``catalog`` (the mounted services' entries) as
    the service catalog, then write ``clouds.yaml``. ``own_prefixes`` are the
    paths Cairn's services live under, to tell a stale entry of Cairn's own from
    an operator's entry for a service elsewhere."""
    state = identity.state
    existing = _load_clouds(config.clouds_yaml)
    admin = next(
        (u for u in state.users.values() if u.name == "admin" and u.domain_id == DEFAULT_DOMAIN),
        None,
    )
    demo_exists = any(
        u.name == "demo" and u.domain_id == DEFAULT_DOMAIN for u in state.users.values()
    )
    generated = None
    admin_password = config.admin_password
    reset = False
    if admin is None:
        if admin_password is None:
            admin_password = generated = generate_password()
    elif admin_password is not None:
        reset = not await identity.hasher.verify(admin_password, admin.password_hash)
    else:
        admin_password = _known_password(existing, "cairn-admin")
    demo_password = _known_password(existing, "cairn-demo") if demo_exists else generate_password()
    admin_hash = (
        await identity.hasher.hash(admin_password)
        if admin_password is not None and (admin is None or reset)
        else None
    )
    demo_hash = (
        None if demo_exists or demo_password is None else await identity.hasher.hash(demo_password)
    )
    secrets_ = Secrets(admin_hash, demo_hash, reset)
    now = time.time()
    await identity.run(
        lambda s: decide(s, config.public_url, config.region, secrets_, now, catalog, own_prefixes)
    )
    await asyncio.to_thread(write_clouds_yaml, config, admin_password, demo_password)
    return Outcome(generated, config.clouds_yaml)


def _cloud(config: IdentityConfig, user: str, password: str | None) -> dict[str, Any]:
    auth: dict[str, Any] = {
        "auth_url": config.public_url + "/identity",
        "username": user,
        "project_name": user,
        "user_domain_name": "Default",
        "project_domain_name": "Default",
    }
    if password is not None:
        auth["password"] = password
    return {
        "auth": auth,
        "region_name": config.region,
        "interface": "public",
        "identity_api_version": 3,
    }


def write_clouds_yaml(config: IdentityConfig, admin: str | None, demo: str | None) -> None:
    """``clouds.yaml`` with ``cairn-admin`` and ``cairn-demo``, readable by its owner only."""
    document = {
        "clouds": {
            "cairn-admin": _cloud(config, "admin", admin),
            "cairn-demo": _cloud(config, "demo", demo),
        }
    }
    path = config.clouds_yaml
    path.parent.mkdir(parents=True, exist_ok=True)
    temp = path.with_name(f".{path.name}.tmp")
    fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        yaml.safe_dump(document, f, sort_keys=False)
    os.replace(temp, path)
