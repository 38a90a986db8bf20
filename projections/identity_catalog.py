"""Identity's state as the audit tool shows it: users, projects, groups, roles,
role assignments; all views of the one ``identity`` projection.

``cairn audit replay --at T users`` folds the identity projection once and
shows these rows; ``--project P`` keeps what belongs to P (the project itself,
its assignments, the users and groups holding a role on it). No row carries a
password hash or a secret.
"""

from __future__ import annotations

from cairn.projections.catalog import Row, catalog
from cairn.projections.identity import IdentityProjection, IdentityState


def _on_project(state: IdentityState, project: str) -> set[str]:
    """Ids of the actors (users, groups) holding a role on ``project``."""
    return {
        grant.actor_id
        for grant in state.grants.values()
        if grant.scope_type == "project" and grant.scope_id == project
    }


def user_rows(state: IdentityState, project: str | None) -> list[Row]:
    actors = _on_project(state, project) if project is not None else None
    return [
        {
            "id": user.id,
            "name": user.name,
            "domain": user.domain_id,
            "enabled": user.enabled,
            "default_project": user.default_project_id,
            "password": user.password_hash is not None,
            "failed_logins": user.failed_logins,
        }
        for user in sorted(state.users.values(), key=lambda u: (u.domain_id, u.name))
        if actors is None or user.id in actors
    ]


def project_rows(state: IdentityState, project: str | None) -> list[Row]:
    return [
        {
            "id": p.id,
            "name": p.name,
            "domain": p.domain_id,
            "enabled": p.enabled,
            "parent": p.parent_id,
            "tags": ",".join(p.tags),
        }
        for p in sorted(state.projects.values(), key=lambda p: (p.domain_id, p.name))
        if project is None or p.id == project
    ]


def group_rows(state: IdentityState, project: str | None) -> list[Row]:
    actors = _on_project(state, project) if project is not None else None
    return [
        {
            "id": g.id,
            "name": g.name,
            "domain": g.domain_id,
            "members": len(state.members.get(g.id, ())),
        }
        for g in sorted(state.groups.values(), key=lambda g: (g.domain_id, g.name))
        if actors is None or g.id in actors
    ]


def role_rows(state: IdentityState, project: str | None) -> list[Row]:
    return [
        {
            "id": r.id,
            "name": r.name,
            "domain": r.domain_id,
            "implies": ",".join(
                sorted(state.roles[i].name for i in state.implied.get(r.id, ()) if i in state.roles)
            ),
        }
        for r in sorted(state.roles.values(), key=lambda r: r.name)
    ]


def assignment_rows(state: IdentityState, project: str | None) -> list[Row]:
    names = {r.id: r.name for r in state.roles.values()}
    return [
        {
            "actor": f"{g.actor_type}:{g.actor_id}",
            "scope": f"{g.scope_type}:{g.scope_id}",
            "role": names.get(g.role_id, g.role_id),
            "inherited": g.inherited,
        }
        for g in sorted(state.grants.values(), key=lambda g: g.key)
        if project is None or (g.scope_type == "project" and g.scope_id == project)
    ]


_VIEWS = (
    ("users", user_rows, ("id", "name", "domain", "enabled", "default_project", "password",
                          "failed_logins"), "identity: users (no password hashes)"),
    ("projects", project_rows, ("id", "name", "domain", "enabled", "parent", "tags"),
     "identity: projects"),
    ("groups", group_rows, ("id", "name", "domain", "members"), "identity: groups"),
    ("roles", role_rows, ("id", "name", "domain", "implies"), "identity: roles"),
    ("assignments", assignment_rows, ("actor", "scope", "role", "inherited"),
     "identity: role assignments"),
)  # fmt: skip

for name, rows, columns, description in _VIEWS:
    catalog.register(name, IdentityProjection, rows=rows, columns=columns, description=description)
