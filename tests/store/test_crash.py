"""kill -9 in the middle of appends: nothing acknowledged is lost, nothing torn."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
from pathlib import Path

import pytest

from cairn.events import NewEvent
from cairn.events.chain import first_broken_link
from cairn.store import StreamWrite, open_store
from tests.conftest import fresh_pg_database

ROOT = Path(__file__).resolve().parents[2]


async def _run_and_kill(url: str, acknowledged_at_least: int) -> set[str]:
    """Run the crash writer until it acknowledged enough, SIGKILL it, and
    return the streams it said were appended."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "tests.store.crash_writer",
        url,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    acknowledged: set[str] = set()
    try:
        async with asyncio.timeout(60):
            assert (await proc.stdout.readline()).strip() == b"ready"
            while len(acknowledged) < acknowledged_at_least:
                line = await proc.stdout.readline()
                assert line, "the writer died on its own"
                acknowledged.add(line.decode().strip())
        proc.send_signal(signal.SIGKILL)
        # Whatever it printed before the kill was acknowledged, too.
        rest = await proc.stdout.read()
        acknowledged.update(s for s in rest.decode().split("\n") if s.startswith("crash-"))
    finally:
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
    return acknowledged


async def _check_after_crash(url: str) -> None:
    acknowledged = await _run_and_kill(url, 400)
    store = await open_store(url)
    try:
        log = await store.read_all(limit=1_000_000)
        assert first_broken_link(log) is None
        assert [e.position for e in log] == list(range(1, len(log) + 1))
        versions: dict[str, list[int]] = {}
        for event in log:
            versions.setdefault(event.stream, []).append(event.version)
        assert all(v == [1, 2] for v in versions.values()), "an append was torn"
        assert acknowledged <= set(versions), "an acknowledged append was lost"
        # The store takes appends again, chained onto the survivors.
        await store.append(StreamWrite("after-crash-1", [NewEvent(type="Tick", data=b"{}")]))
        assert first_broken_link(await store.read_all(limit=1_000_000)) is None
    finally:
        await store.close()


async def test_sqlite_survives_kill_9_mid_append(tmp_path: Path) -> None:
    await _check_after_crash(f"sqlite:///{tmp_path / 'crash.sqlite'}")


@pytest.mark.postgres
async def test_postgres_survives_kill_9_mid_append() -> None:
    async with fresh_pg_database() as dsn:
        await _check_after_crash(dsn)
