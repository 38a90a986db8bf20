"""History of a resource, what a user did or tried, and diffs, on a known story."""

from __future__ import annotations

from cairn.audit import diff, history, who
from cairn.audit.queries import event_row, is_rejection
from tests.audit.conftest import ALICE, BOB, THING_A, THING_B, Handle, append_sequence


async def test_history_of_a_stream_is_its_events_in_order(handle: Handle) -> None:
    steps = await append_sequence(handle.store)
    head = await handle.store.head()
    events = await history(handle.store, f"thing-{THING_A}", upto=head)
    assert [e.type for e in events] == [
        "AuditThingCreated",
        "AuditThingRenamed",
        "AuditThingDeleted",
    ]
    assert [e.position for e in events] == [1, steps["a_renamed"], steps["a_deleted"]]
    older = await history(handle.store, f"thing-{THING_A}", upto=steps["a_renamed"])
    assert len(older) == 2


async def test_history_of_an_id_gathers_every_stream_naming_it(handle: Handle) -> None:
    await append_sequence(handle.store)
    head = await handle.store.head()
    seen: list[int] = []
    events = await history(handle.store, THING_A, upto=head, on_progress=seen.append)
    assert [(e.stream, e.type) for e in events] == [
        (f"thing-{THING_A}", "AuditThingCreated"),
        (f"quota-{THING_A}", "AuditThingCreated"),
        (f"thing-{THING_A}", "AuditThingRenamed"),
        (f"thing-{THING_A}", "AuditThingDeleted"),
    ]
    assert seen[-1] == head
    # a part of an id is not the id, nor is a stream that merely contains it
    assert await history(handle.store, THING_A[:8], upto=head) == []
    assert [e.stream for e in await history(handle.store, THING_B, upto=head)] == [
        f"thing-{THING_B}"
    ]


async def test_who_lists_what_a_user_did_and_was_refused(handle: Handle) -> None:
    steps = await append_sequence(handle.store)
    head = await handle.store.head()
    bob = await who(handle.store, BOB, upto=head)
    assert [(e.position, e.type) for e in bob] == [
        (steps["b_created"], "AuditThingCreated"),
        (steps["a_renamed"], "AuditThingRenamed"),
        (steps["denied"], "AuditRequestDenied"),
    ]
    rows = [event_row(e) for e in bob]
    assert [r["rejected"] for r in rows] == [False, False, True]
    assert rows[2]["data"] == {"action": "thing:delete", "target": THING_A}
    assert rows[2]["request"] == "req9"
    alice = await who(handle.store, ALICE, upto=head)
    assert [e.position for e in alice] == [1, 2, steps["a_deleted"]]
    assert await who(handle.store, "alice", upto=head) == []  # exact ids only
    assert await who(handle.store, ALICE, upto=2) == alice[:2]


async def test_diff_summarises_each_stream_between_two_points(handle: Handle) -> None:
    steps = await append_sequence(handle.store)
    changes = await diff(handle.store, steps["a_created"], steps["a_deleted"])
    summary = {
        c.stream: (c.events, c.from_version, c.to_version, c.created, c.last_type) for c in changes
    }
    assert summary == {
        "audit-req9": (1, 0, 1, True, "AuditRequestDenied"),
        f"thing-{THING_A}": (2, 1, 3, False, "AuditThingDeleted"),
        f"thing-{THING_B}": (1, 0, 1, True, "AuditThingCreated"),
    }
    (a,) = [c for c in changes if c.stream == f"thing-{THING_A}"]
    assert a.types == {"AuditThingRenamed": 1, "AuditThingDeleted": 1}
    assert await diff(handle.store, 3, 3) == []


def test_rejections_are_recognised_by_type_name_only() -> None:
    assert is_rejection("PolicyDenied")
    assert is_rejection("AuthenticationFailed")
    assert not is_rejection("ServerCreated")
    assert not is_rejection("FailedLoginsCleared")
