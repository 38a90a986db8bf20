"""Who holds which role where: effective roles and role assignments, from the state.

Effective roles on a scope are the roles granted to the user, or to a group
the user is in, on that scope (and, for a project, those granted on its domain
with ``inherited``), expanded with every role they imply (``admin`` implies
``member`` implies ``reader``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from cairn.projections.identity import Grant, IdentityState


def groups_of(state: IdentityState, user_id: str) -> list[str]:
    return [group_id for group_id, members in state.members.items() if user_id in members]


def expand_implied(state: IdentityState, role_ids: Iterable[str]) -> set[str]:
    """``role_ids`` and every role they imply, transitively (cycles are harmless).

    A domain-specific role is never effective itself, as in Keystone: it stands
    only for the global roles it implies, which are."""
    seen: set[str] = set()
    pending = list(role_ids)
    while pending:
        role_id = pending.pop()
        if role_id in seen or role_id not in state.roles:
            continue
        seen.add(role_id)
        pending.extend(state.implied.get(role_id, ()))
    return {r for r in seen if state.roles[r].domain_id is None}


def _actor_grants(state: IdentityState, user_id: str) -> Iterator[Grant]:
    for actor_id in (user_id, *groups_of(state, user_id)):
        for key in state.grants_by_actor.get(actor_id, ()):
            grant = state.grants.get(key)
            if grant is not None:
                yield grant


def ancestors(state: IdentityState, project_id: str) -> list[str]:
    """The project's parent projects, nearest first (not its domain)."""
    found: list[str] = []
    project = state.projects.get(project_id)
    while project is not None and project.parent_id and project.parent_id != project.domain_id:
        if project.parent_id in found or project.parent_id not in state.projects:
            break
        found.append(project.parent_id)
        project = state.projects[project.parent_id]
    return found


def inherits_from(state: IdentityState, project_id: str) -> set[tuple[str, str]]:
    """The scopes whose inherited grants (OS-INHERIT) reach ``project_id``: its
    domain and every project above it; never the project itself."""
    project = state.projects.get(project_id)
    if project is None:
        return set()
    return {("domain", project.domain_id)} | {("project", p) for p in ancestors(state, project_id)}


def inherited_to(state: IdentityState, scope_type: str, scope_id: str) -> list[str]:
    """The projects an inherited grant on the scope reaches: a domain's projects,
    or a project's subtree below it."""
    return [p for p in state.projects if (scope_type, scope_id) in inherits_from(state, p)]


def direct_role_ids(state: IdentityState, user_id: str, scope_type: str, scope_id: str) -> set[str]:
    """Roles granted (to the user or a group) on the scope, before implication."""
    reach = inherits_from(state, scope_id) if scope_type == "project" else set()
    found: set[str] = set()
    for grant in _actor_grants(state, user_id):
        at = (grant.scope_type, grant.scope_id)
        if (at in reach) if grant.inherited else (at == (scope_type, scope_id)):
            found.add(grant.role_id)
    return found


def effective_role_ids(
    state: IdentityState, user_id: str, scope_type: str, scope_id: str
) -> set[str]:
    return expand_implied(state, direct_role_ids(state, user_id, scope_type, scope_id))


def scopes_with_roles(state: IdentityState, user_id: str, scope_type: str) -> set[str]:
    """Ids of the projects (or domains) where the user holds some role."""
    found: set[str] = set()
    for grant in _actor_grants(state, user_id):
        if grant.scope_type == scope_type and not grant.inherited:
            found.add(grant.scope_id)
        elif grant.inherited and scope_type == "project":
            found.update(inherited_to(state, grant.scope_type, grant.scope_id))
    return found


def effective_assignments(state: IdentityState, grants: Iterable[Grant]) -> list[Grant]:
    """Role assignments as ``effective`` lists them: group grants become one per
    member, inherited grants one per project they reach (a domain's projects, a
    project's subtree), and implied roles are added."""
    result: dict[str, Grant] = {}
    for grant in grants:
        users = (
            [grant.actor_id]
            if grant.actor_type == "user"
            else sorted(state.members.get(grant.actor_id, ()))
        )
        scopes = [(grant.scope_type, grant.scope_id)]
        if grant.inherited:
            scopes = [("project", p) for p in inherited_to(state, grant.scope_type, grant.scope_id)]
        for user_id in users:
            for scope_type, scope_id in scopes:
                for role_id in expand_implied(state, [grant.role_id]):
                    made = Grant("user", user_id, scope_type, scope_id, role_id)
                    result.setdefault(made.key, made)
    return list(result.values())
