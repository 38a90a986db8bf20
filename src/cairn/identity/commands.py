"""Identity's deciders: ``(state, ...) -> [StreamWrite]``, pure, run by the executor.

Each checks its command against the projected state and raises a domain error
(:mod:`cairn.identity.errors`) to refuse it. Ids, password hashes and times are
made by the caller, before deciding, since a decider may run more than once.
"""

from __future__ import annotations

from cairn.events import DomainEvent, Metadata
from cairn.events import identity as ev
from cairn.identity.decide import change, claim, create, find, grant_stream_id, release, rename
from cairn.identity.errors import Conflict, Forbidden, Invalid, NotFound
from cairn.projections.identity import IdentityState, grant_key
from cairn.store.port import StreamWrite

Writes = list[StreamWrite]
SCOPE_TYPES = ("project", "domain", "system")


# -- domains -------------------------------------------------------------------------


def create_domain(s: IdentityState, m: Metadata, d: ev.DomainCreated) -> Writes:
    if d.domain_id in s.domains:
        raise Conflict(f"Conflict occurred attempting to store domain - {d.domain_id} exists.")
    return [
        claim(s, "domain", "", d.name, d.domain_id, m),
        create("domain", d.domain_id, m, d),
    ]


def update_domain(s: IdentityState, m: Metadata, d: ev.DomainUpdated) -> Writes:
    old = find(s.domains, d.domain_id, "domain")
    if (old.name, old.description, old.enabled) == (d.name, d.description, d.enabled):
        return []
    return [
        *rename(s, "domain", "", old.name, d.name, d.domain_id, m),
        change(s, "domain", d.domain_id, m, d),
    ]


def delete_domain(s: IdentityState, m: Metadata, domain_id: str) -> Writes:
    """A disabled domain goes with everything in it, as in Keystone: its projects
    (children before parents), users, groups and domain-specific roles, in the
    same atomic append (their assignments go with them in the projection)."""
    domain = find(s.domains, domain_id, "domain")
    if domain.enabled:
        raise Forbidden("Cannot delete a domain that is enabled, please disable it first.")
    writes: Writes = []
    projects = [p for p in s.projects.values() if p.domain_id == domain_id]
    # children first; a project acting as this domain (the same id) last
    for project in sorted(projects, key=lambda p: (p.id == domain_id, -_depth(s, p.id))):
        writes += delete_project(s, m, project.id, cascade=True)
    for user in [u for u in s.users.values() if u.domain_id == domain_id]:
        writes += delete_user(s, m, user.id)
    for group in [g for g in s.groups.values() if g.domain_id == domain_id]:
        writes += delete_group(s, m, group.id)
    for role in [r for r in s.roles.values() if r.domain_id == domain_id]:
        writes += delete_role(s, m, role.id)
    return [
        *writes,
        release(s, "domain", "", domain.name, domain_id, m),
        change(s, "domain", domain_id, m, ev.DomainDeleted(domain_id=domain_id)),
    ]


def _depth(s: IdentityState, project_id: str) -> int:
    depth, seen = 0, {project_id}
    parent = s.projects[project_id].parent_id if project_id in s.projects else None
    while parent is not None and parent in s.projects and parent not in seen:
        depth, seen = depth + 1, seen | {parent}
        parent = s.projects[parent].parent_id
    return depth


# -- projects --------------------------------------------------------------------------


def create_project(s: IdentityState, m: Metadata, d: ev.ProjectCreated) -> Writes:
    if d.is_domain:
        # Keystone's project acting as a domain: one id, both a domain and a project.
        domain = ev.DomainCreated(
            domain_id=d.project_id, name=d.name, description=d.description, enabled=d.enabled
        )
        return [
            *create_domain(s, m, domain),
            claim(s, "project", d.project_id, d.name, d.project_id, m),
            create("project", d.project_id, m, d),
        ]
    find(s.domains, d.domain_id, "domain")
    if d.parent_id is not None and d.parent_id != d.domain_id:
        parent = find(s.projects, d.parent_id, "project")
        if parent.domain_id != d.domain_id:
            raise Invalid("A project's parent must be in the same domain.")
    return [
        claim(s, "project", d.domain_id, d.name, d.project_id, m),
        create("project", d.project_id, m, d),
    ]


def update_project(s: IdentityState, m: Metadata, d: ev.ProjectUpdated) -> Writes:
    old = find(s.projects, d.project_id, "project")
    if (old.name, old.description, old.enabled, old.tags) == (
        d.name, d.description, d.enabled, d.tags,
    ):  # fmt: skip
        return []
    writes = [
        *rename(s, "project", old.domain_id, old.name, d.name, d.project_id, m),
        change(s, "project", d.project_id, m, d),
    ]
    if old.is_domain and d.project_id in s.domains:
        domain = ev.DomainUpdated(
            domain_id=d.project_id, name=d.name, description=d.description, enabled=d.enabled
        )
        writes += update_domain(s, m, domain)
    return writes


def delete_project(
    s: IdentityState, m: Metadata, project_id: str, *, cascade: bool = False
) -> Writes:
    project = find(s.projects, project_id, "project")
    if project.is_domain and not cascade and project_id in s.domains:
        return delete_domain(s, m, project_id)
    if not cascade and any(p.parent_id == project_id for p in s.projects.values()):
        raise Forbidden(f"Cannot delete project {project_id}: it has child projects.")
    return [
        release(s, "project", project.domain_id, project.name, project_id, m),
        change(s, "project", project_id, m, ev.ProjectDeleted(project_id=project_id)),
    ]


# -- users -----------------------------------------------------------------------------


def create_user(s: IdentityState, m: Metadata, d: ev.UserCreated) -> Writes:
    find(s.domains, d.domain_id, "domain")
    if d.default_project_id is not None:
        find(s.projects, d.default_project_id, "project")
    return [claim(s, "user", d.domain_id, d.name, d.user_id, m), create("user", d.user_id, m, d)]


def update_user(s: IdentityState, m: Metadata, d: ev.UserUpdated, now: float) -> Writes:
    old = find(s.users, d.user_id, "user")
    if d.default_project_id is not None:
        find(s.projects, d.default_project_id, "project")
    same = (old.name, old.enabled, old.default_project_id, old.description, old.email, old.extra)
    if same == (d.name, d.enabled, d.default_project_id, d.description, d.email, d.extra):
        return []
    writes = rename(s, "user", old.domain_id, old.name, d.name, d.user_id, m)
    events: list[DomainEvent] = [d]
    if old.enabled and not d.enabled:  # a disabled user's tokens stop working
        events.append(ev.TokenRevoked(user_id=d.user_id, issued_before=now))
    return [*writes, change(s, "user", d.user_id, m, *events)]


def change_password(s: IdentityState, m: Metadata, user_id: str, hashed: str, at: float) -> Writes:
    find(s.users, user_id, "user")
    event = ev.UserPasswordChanged(user_id=user_id, password_hash=hashed, at=at)
    return [change(s, "user", user_id, m, event)]


def delete_user(s: IdentityState, m: Metadata, user_id: str) -> Writes:
    user = find(s.users, user_id, "user")
    return [
        release(s, "user", user.domain_id, user.name, user_id, m),
        change(s, "user", user_id, m, ev.UserDeleted(user_id=user_id)),
    ]


# -- roles and assignments ---------------------------------------------------------------


def create_role(s: IdentityState, m: Metadata, d: ev.RoleCreated) -> Writes:
    if d.domain_id is not None:
        find(s.domains, d.domain_id, "domain")
    scope = d.domain_id or ""
    return [claim(s, "role", scope, d.name, d.role_id, m), create("role", d.role_id, m, d)]


def update_role(s: IdentityState, m: Metadata, d: ev.RoleUpdated) -> Writes:
    old = find(s.roles, d.role_id, "role")
    if (old.name, old.description) == (d.name, d.description):
        return []
    return [
        *rename(s, "role", old.domain_id or "", old.name, d.name, d.role_id, m),
        change(s, "role", d.role_id, m, d),
    ]


def delete_role(s: IdentityState, m: Metadata, role_id: str) -> Writes:
    role = find(s.roles, role_id, "role")
    return [
        release(s, "role", role.domain_id or "", role.name, role_id, m),
        change(s, "role", role_id, m, ev.RoleDeleted(role_id=role_id)),
    ]


def imply_role(s: IdentityState, m: Metadata, prior_id: str, implied_id: str) -> Writes:
    prior = find(s.roles, prior_id, "role")
    implied = find(s.roles, implied_id, "role")
    if prior.domain_id is None and implied.domain_id is not None:
        raise Forbidden("A global role cannot imply a domain-specific role.")
    if implied_id in s.implied.get(prior_id, ()):
        return []
    if prior_id == implied_id:
        raise Invalid("A role cannot imply itself.")
    event = ev.RoleImplied(prior_role_id=prior_id, implied_role_id=implied_id)
    return [change(s, "role", prior_id, m, event)]


def unimply_role(s: IdentityState, m: Metadata, prior_id: str, implied_id: str) -> Writes:
    find(s.roles, prior_id, "role")
    find(s.roles, implied_id, "role")
    if implied_id not in s.implied.get(prior_id, ()):
        raise NotFound("implied role", f"{prior_id} implies {implied_id}")
    event = ev.RoleImplicationRemoved(prior_role_id=prior_id, implied_role_id=implied_id)
    return [change(s, "role", prior_id, m, event)]


def _check_grant(s: IdentityState, g: ev.RoleAssigned | ev.RoleUnassigned) -> None:
    if g.actor_type == "user":
        find(s.users, g.actor_id, "user")
    elif g.actor_type == "group":
        find(s.groups, g.actor_id, "group")
    else:
        raise Invalid(f"unknown actor type {g.actor_type!r}")
    if g.scope_type == "project":
        find(s.projects, g.scope_id, "project")
    elif g.scope_type == "domain":
        find(s.domains, g.scope_id, "domain")
    elif g.scope_type != "system" or g.scope_id != "all":
        raise Invalid(f"unknown scope {g.scope_type}:{g.scope_id}")
    elif g.inherited:
        raise Invalid("Only domain and project grants are inherited.")
    find(s.roles, g.role_id, "role")


def _grant_stream_id(g: ev.RoleAssigned | ev.RoleUnassigned) -> str:
    key = grant_key(g.actor_type, g.actor_id, g.scope_type, g.scope_id, g.role_id, g.inherited)
    return grant_stream_id(key)


def assign_role(s: IdentityState, m: Metadata, g: ev.RoleAssigned) -> Writes:
    _check_grant(s, g)
    key = grant_key(g.actor_type, g.actor_id, g.scope_type, g.scope_id, g.role_id, g.inherited)
    if key in s.grants:
        return []
    return [change(s, "grant", _grant_stream_id(g), m, g)]


def unassign_role(s: IdentityState, m: Metadata, g: ev.RoleUnassigned) -> Writes:
    _check_grant(s, g)
    key = grant_key(g.actor_type, g.actor_id, g.scope_type, g.scope_id, g.role_id, g.inherited)
    if key not in s.grants:
        raise NotFound("role assignment", f"{g.role_id} on {g.scope_type} {g.scope_id}")
    return [change(s, "grant", _grant_stream_id(g), m, g)]


# -- groups ------------------------------------------------------------------------------


def create_group(s: IdentityState, m: Metadata, d: ev.GroupCreated) -> Writes:
    find(s.domains, d.domain_id, "domain")
    return [
        claim(s, "group", d.domain_id, d.name, d.group_id, m),
        create("group", d.group_id, m, d),
    ]


def update_group(s: IdentityState, m: Metadata, d: ev.GroupUpdated) -> Writes:
    old = find(s.groups, d.group_id, "group")
    if (old.name, old.description) == (d.name, d.description):
        return []
    return [
        *rename(s, "group", old.domain_id, old.name, d.name, d.group_id, m),
        change(s, "group", d.group_id, m, d),
    ]


def delete_group(s: IdentityState, m: Metadata, group_id: str) -> Writes:
    group = find(s.groups, group_id, "group")
    return [
        release(s, "group", group.domain_id, group.name, group_id, m),
        change(s, "group", group_id, m, ev.GroupDeleted(group_id=group_id)),
    ]


def add_to_group(s: IdentityState, m: Metadata, group_id: str, user_id: str) -> Writes:
    find(s.groups, group_id, "group")
    find(s.users, user_id, "user")
    if user_id in s.members.get(group_id, ()):
        return []
    event = ev.UserAddedToGroup(group_id=group_id, user_id=user_id)
    return [change(s, "group", group_id, m, event)]


def remove_from_group(s: IdentityState, m: Metadata, group_id: str, user_id: str) -> Writes:
    find(s.groups, group_id, "group")
    find(s.users, user_id, "user")
    if user_id not in s.members.get(group_id, ()):
        raise NotFound("user in group", user_id)
    event = ev.UserRemovedFromGroup(group_id=group_id, user_id=user_id)
    return [change(s, "group", group_id, m, event)]
