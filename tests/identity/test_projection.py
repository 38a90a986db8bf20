"""The identity projection: events in, state out; no database. And the deciders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import msgspec
import pytest

from cairn.events import GENESIS_HASH, DomainEvent, Metadata, RecordedEvent, registry
from cairn.events import identity as ev
from cairn.identity import commands, roles
from cairn.identity.errors import Conflict, Forbidden, NotFound
from cairn.projections.identity import IdentityProjection, IdentityState
from cairn.store import StreamWrite

PROJECTION = IdentityProjection()
META = Metadata()


def fold(*events: tuple[str, DomainEvent], state: IdentityState | None = None) -> IdentityState:
    state = state or PROJECTION.initial()
    versions: dict[str, int] = {}
    for position, (stream, event) in enumerate(events, start=1):
        versions[stream] = versions.get(stream, 0) + 1
        new = registry.new(event)
        recorded = RecordedEvent(
            id=uuid.uuid4(), stream=stream, version=versions[stream], position=position,
            type=new.type, schema_version=new.schema_version, recorded_at=datetime.now(UTC),
            data=new.data, raw_metadata=b"{}", prev_hash=GENESIS_HASH, hash=GENESIS_HASH,
        )  # fmt: skip
        state = PROJECTION.apply(state, recorded)
    return state


def base() -> list[tuple[str, DomainEvent]]:
    return [
        ("domain-d", ev.DomainCreated(domain_id="d", name="Default")),
        ("project-p", ev.ProjectCreated(project_id="p", domain_id="d", name="web")),
        ("user-u", ev.UserCreated(user_id="u", domain_id="d", name="bob", password_hash="$2b$x")),
        ("role-a", ev.RoleCreated(role_id="a", name="admin")),
        ("role-m", ev.RoleCreated(role_id="m", name="member")),
        ("role-r", ev.RoleCreated(role_id="r", name="reader")),
        ("role-a", ev.RoleImplied(prior_role_id="a", implied_role_id="m")),
        ("role-m", ev.RoleImplied(prior_role_id="m", implied_role_id="r")),
    ]


def assigned(actor: str, scope: str, role: str, kind: str = "user") -> tuple[str, DomainEvent]:
    event = ev.RoleAssigned(
        actor_type=kind, actor_id=actor, scope_type="project", scope_id=scope, role_id=role
    )
    return f"grant-{actor}{scope}{role}", event


def test_entities_and_stream_versions() -> None:
    state = fold(*base(), ("project-p", ev.ProjectUpdated(
        project_id="p", name="www", description="new", enabled=False)))  # fmt: skip
    assert state.projects["p"].name == "www"
    assert not state.projects["p"].enabled
    assert state.users["u"].password_hash == "$2b$x"
    assert state.versions["project-p"] == 2
    assert state.versions["role-a"] == 2


def test_implied_roles_expand_transitively() -> None:
    state = fold(*base(), assigned("u", "p", "a"))
    assert roles.effective_role_ids(state, "u", "project", "p") == {"a", "m", "r"}
    assert roles.effective_role_ids(state, "u", "project", "other") == set()


def test_group_grants_reach_members_and_leave_with_them() -> None:
    state = fold(
        *base(),
        ("group-g", ev.GroupCreated(group_id="g", domain_id="d", name="devs")),
        ("group-g", ev.UserAddedToGroup(group_id="g", user_id="u")),
        assigned("g", "p", "r", kind="group"),
    )
    assert roles.effective_role_ids(state, "u", "project", "p") == {"r"}
    state = fold(("group-g", ev.UserRemovedFromGroup(group_id="g", user_id="u")), state=state)
    assert roles.effective_role_ids(state, "u", "project", "p") == set()


def test_deleting_a_project_or_user_drops_its_grants() -> None:
    state = fold(*base(), assigned("u", "p", "m"))
    assert len(state.grants) == 1
    state = fold(("project-p", ev.ProjectDeleted(project_id="p")), state=state)
    assert state.grants == {}
    assert "p" not in state.projects
    state = fold(*base(), assigned("u", "p", "m"), ("user-u", ev.UserDeleted(user_id="u")))
    assert state.grants == {}
    assert state.grants_by_actor["u"] == set()


def failed(at: float) -> ev.AuthenticationFailed:
    return ev.AuthenticationFailed(method="password", reason="x", at=at, user_id="u")


def test_revocations_and_failed_logins() -> None:
    state = fold(
        *base(),
        ("revocation-u", ev.TokenRevoked(audit_id="abc", user_id="u")),
        ("audit-identity", failed(5.0)),
        ("audit-identity", failed(6.0)),
        ("user-u", ev.UserPasswordChanged(user_id="u", password_hash="$2b$y", at=7.0)),
    )  # fmt: skip
    assert "abc" in state.revoked_audit_ids
    assert state.revoked_before["u"] == 7.0
    assert state.users["u"].failed_logins == 0
    state = fold(("audit-identity", failed(8.0)), state=state)
    assert (state.users["u"].failed_logins, state.users["u"].last_failure) == (1, 8.0)


def test_the_state_survives_a_snapshot() -> None:
    state = fold(*base(), assigned("u", "p", "a"))
    again = PROJECTION.decode_state(PROJECTION.encode_state(state))
    assert again == state


def test_deciders_refuse_and_claim_names() -> None:
    state = fold(
        *base(), ("name-x", ev.NameClaimed(kind="project", scope="d", name="web", owner_id="p"))
    )
    with pytest.raises(Conflict):
        commands.create_project(
            state, META, ev.ProjectCreated(project_id="q", domain_id="d", name="WEB")
        )
    with pytest.raises(NotFound):
        commands.create_project(
            state, META, ev.ProjectCreated(project_id="q", domain_id="nope", name="x")
        )
    with pytest.raises(Forbidden):
        commands.delete_domain(state, META, "d")  # still enabled
    writes = commands.create_project(
        state, META, ev.ProjectCreated(project_id="q", domain_id="d", name="api")
    )
    assert [w.stream.split("-")[0] for w in writes] == ["name", "project"]
    assert writes[1].expected_version == 0
    grant = ev.RoleAssigned(
        actor_type="user", actor_id="u", scope_type="project", scope_id="p", role_id="m"
    )
    [write] = commands.assign_role(state, META, grant)
    assert commands.assign_role(fold(write_event(write), state=state), META, grant) == []


def write_event(write: StreamWrite) -> tuple[str, DomainEvent]:
    [new] = write.events
    event: DomainEvent = msgspec.json.decode(new.data, type=registry.type_of(new.type))
    return write.stream, event
