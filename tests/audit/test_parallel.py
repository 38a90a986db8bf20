"""Verification in several processes gives exactly the one-process answer."""

from __future__ import annotations

from cairn.audit import verify_chain
from cairn.audit.parallel import RangeResult, combine, verify_parallel
from cairn.audit.verify import VerifyReport
from tests.audit.conftest import Handle, append_many

N = 130
CHUNK = 30  # ranges (0,30], (30,60], ...: the tamperings below sit on their seams


async def both(handle: Handle) -> tuple[VerifyReport, VerifyReport]:
    store = await handle.reopen()
    head = await store.head()
    serial = await verify_chain(store, page=7)
    parallel = await verify_parallel(handle.url, head, jobs=2, chunk=CHUNK)
    return serial, parallel


async def test_every_kind_of_break_is_found_where_one_process_finds_it(handle: Handle) -> None:
    await append_many(handle.store, N)
    serial, parallel = await both(handle)
    assert parallel == serial
    assert parallel.ok
    assert parallel.verified == N
    # Each tampering lies before the previous one, so each becomes the first break.
    for statement, params, where in [
        ("UPDATE events SET data = ? WHERE position = ?", [b"{}", 100], (100, "hash")),
        ("UPDATE events SET type = ? WHERE position = ?", ["X", 61], (61, "hash")),
        ("DELETE FROM events WHERE position = ?", [31], (32, "link")),
        ("UPDATE events SET hash = ? WHERE position = ?", [bytes(32), 30], (30, "hash")),
        ("UPDATE events SET metadata = ? WHERE position = ?", [b"{}", 1], (1, "hash")),
    ]:
        await handle.sql(statement, *params)
        serial, parallel = await both(handle)
        assert parallel.broken is not None
        assert (parallel.broken.position, parallel.broken.mismatch) == where
        assert parallel == serial


def test_a_seam_that_does_not_link_is_reported_at_the_later_range() -> None:
    first = RangeResult(10, 1, "s-1", "T", 5, bytes(32), b"a" * 32, None, 10, 10)
    second = RangeResult(10, 11, "s-2", "U", 6, b"b" * 32, b"c" * 32, None, 10, 20)
    report = combine([first, second], 20)
    assert report.broken is not None
    assert (report.broken.position, report.broken.stream, report.broken.type) == (11, "s-2", "U")
    assert (report.broken.mismatch, report.broken.expected) == ("link", b"a" * 32)
    assert (report.verified, report.last_position) == (10, 10)
    joined = RangeResult(10, 11, "s-2", "U", 6, b"a" * 32, b"c" * 32, None, 10, 20)
    assert combine([first, joined], 20) == VerifyReport(20, 20, 20)
