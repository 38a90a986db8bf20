"""Chain verification finds the first tampered row, whatever was done to it."""

from __future__ import annotations

import pytest

from cairn.audit import verify_chain
from cairn.audit.verify import check_rows
from cairn.events import GENESIS_HASH
from tests.audit.conftest import Handle, append_many, append_sequence

N = 120


async def test_an_intact_log_verifies_event_by_event(handle: Handle) -> None:
    await append_sequence(handle.store)
    await append_many(handle.store, N)
    head = await handle.store.head()
    report = await verify_chain(handle.store, page=7)  # many pages: the seams count
    assert report.ok
    assert report.verified == head == N + 6
    assert report.last_position == head


async def test_an_empty_log_verifies(handle: Handle) -> None:
    report = await verify_chain(handle.store)
    assert report.ok
    assert report.verified == 0
    assert report.head == 0


async def test_raw_rows_hash_to_what_the_store_recorded(handle: Handle) -> None:
    await append_sequence(handle.store)
    rows = await handle.store.read_chain(after=0, limit=100)
    events = await handle.store.read_all(after=0, limit=100)
    assert [r[0] for r in rows] == [e.position for e in events]
    assert [bytes(r[10]) for r in rows] == [e.hash for e in events]
    assert check_rows(rows, GENESIS_HASH)[0] is None


# (what the intruder runs, parameters, position reported, mismatch); {p} is the target.
EDITS = {
    "data": ("UPDATE events SET data = ? WHERE position = ?", [b'{"name":"evil"}'], "hash"),
    "metadata": (
        "UPDATE events SET metadata = ? WHERE position = ?",
        [b'{"user_id":"someone-else"}'],
        "hash",
    ),
    "type": ("UPDATE events SET type = ? WHERE position = ?", ["AuditThingDeleted"], "hash"),
    "stream": ("UPDATE events SET stream = ? WHERE position = ?", ["thing-other"], "hash"),
}


@pytest.mark.parametrize("field", list(EDITS))
@pytest.mark.parametrize("target", [1, 50, 70, N])
async def test_an_edited_row_is_the_first_broken_link(
    handle: Handle, field: str, target: int
) -> None:
    await append_many(handle.store, N)
    statement, params, mismatch = EDITS[field]
    await handle.sql(statement, *params, target)
    report = await verify_chain(await handle.reopen(), page=10)
    assert not report.ok
    assert report.broken is not None
    assert report.broken.position == target
    assert report.broken.mismatch == mismatch
    assert report.verified == target - 1
    if field != "stream":
        assert report.broken.stream.startswith("thing-bulk")


async def test_an_edited_time_breaks_the_hash(handle: Handle) -> None:
    await append_many(handle.store, N)
    if handle.kind == "sqlite":
        await handle.sql("UPDATE events SET recorded_at = recorded_at + 1 WHERE position = 33")
    else:
        await handle.sql(
            "UPDATE events SET recorded_at = recorded_at + interval '1 microsecond' "
            "WHERE position = 33"
        )
    report = await verify_chain(await handle.reopen())
    assert report.broken is not None
    assert (report.broken.position, report.broken.mismatch) == (33, "hash")


async def test_a_deleted_row_breaks_the_next_link(handle: Handle) -> None:
    await append_many(handle.store, N)
    await handle.sql("DELETE FROM events WHERE position = 40")
    report = await verify_chain(await handle.reopen(), page=10)
    assert report.broken is not None
    assert (report.broken.position, report.broken.mismatch) == (41, "link")
    assert report.verified == 39
    assert report.broken.expected != report.broken.stored


async def test_swapped_positions_break_the_first_of_them(handle: Handle) -> None:
    await append_many(handle.store, N)
    await handle.sql("UPDATE events SET position = -1 WHERE position = 60")
    await handle.sql("UPDATE events SET position = 60 WHERE position = 61")
    await handle.sql("UPDATE events SET position = 61 WHERE position = -1")
    report = await verify_chain(await handle.reopen(), page=10)
    assert report.broken is not None
    assert (report.broken.position, report.broken.mismatch) == (60, "link")


async def test_a_rehashed_forgery_still_breaks_the_following_link(handle: Handle) -> None:
    """An intruder who edits a row and recomputes its hash moves the break one
    event on: the next event's link still holds the old hash."""
    await append_many(handle.store, N)
    rows = await handle.store.read_chain(after=24, limit=1)
    forged = list(rows[0])
    forged[7] = b'{"name":"forged"}'
    from cairn.events.chain import chain_hash

    pos, id_bytes, stream, version, type_, schema, micros, data, meta, link, _ = forged
    new_hash = chain_hash(
        bytes(link), bytes(id_bytes), stream.encode(), version, pos, type_.encode(),
        schema, micros, data, bytes(meta),
    )  # fmt: skip
    await handle.sql("UPDATE events SET data = ?, hash = ? WHERE position = 25", data, new_hash)
    report = await verify_chain(await handle.reopen())
    assert report.broken is not None
    assert (report.broken.position, report.broken.mismatch) == (26, "link")


async def test_the_earliest_of_two_tamperings_is_reported(handle: Handle) -> None:
    await append_many(handle.store, N)
    await handle.sql("UPDATE events SET data = ? WHERE position = 90", b"{}")
    await handle.sql("UPDATE events SET data = ? WHERE position = 12", b"{}")
    report = await verify_chain(await handle.reopen(), page=10)
    assert report.broken is not None
    assert report.broken.position == 12


async def test_progress_reports_rising_positions(handle: Handle) -> None:
    await append_many(handle.store, N)
    seen: list[int] = []
    await verify_chain(handle.store, page=25, on_progress=seen.append)
    assert seen == sorted(seen)
    assert seen[-1] == N
    assert len(seen) == 5


async def test_the_audit_tool_hashes_with_the_one_layout_of_events_chain(
    handle: Handle, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The audit tool keeps no copy of the hash layout: a change to
    events/chain.py's layout is a change to what verify computes."""
    from cairn.audit import verify
    from cairn.events import chain

    await append_sequence(handle.store)
    calls: list[int] = []
    real = chain.chain_hash

    def counted(*fields: object) -> bytes:
        calls.append(1)
        return real(*fields)  # type: ignore[arg-type]

    monkeypatch.setattr(verify, "chain_hash", counted)
    rows = await handle.store.read_chain(after=0, limit=100)
    bad, _ = check_rows(rows, GENESIS_HASH)
    assert bad is None
    assert len(calls) == len(rows) == 6
