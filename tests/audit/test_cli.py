"""``cairn audit`` and ``cairn events tail`` end to end: the real console script
in a subprocess, against a data directory (SQLite) and a PostgreSQL database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import stat
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from cairn.events import registry
from cairn.projections.streams import Streams
from cairn.readmodel import ProjectionRunner
from cairn.store import Snapshot, StreamWrite
from tests.audit.conftest import (
    ALICE,
    BOB,
    THING_A,
    AuditThingRenamed,
    Handle,
    append_many,
    append_sequence,
    by,
)
from tests.conftest import fresh_pg_database

CAIRN = Path(sys.executable).with_name("cairn")
TIMEOUT = 60


@dataclass
class Result:
    status: int
    out: str
    err: str

    def json(self) -> object:
        return json.loads(self.out)


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    return {**env, **extra}


def cairn(*args: str, env: dict[str, str] | None = None) -> Result:
    done = subprocess.run(
        [str(CAIRN), *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        env=clean_env() if env is None else env,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


@dataclass
class Cloud:
    """A stopped cloud's store and the flags that find it."""

    handle: Handle
    flags: list[str]


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def cloud(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Cloud]:
    from cairn.store.postgres import PostgresEventStore
    from cairn.store.sqlite import SQLiteEventStore

    if request.param == "sqlite":
        path = tmp_path / "cairn.sqlite"  # where `cairn up --data-dir tmp_path` keeps it
        handle = Handle("sqlite", await SQLiteEventStore.open(path), f"sqlite:///{path}")
        flags = ["--data-dir", str(tmp_path)]
        try:
            yield Cloud(handle, flags)
        finally:
            await handle.store.close()
        return
    async with fresh_pg_database() as dsn:
        handle = Handle("postgresql", await PostgresEventStore.open(dsn), dsn)
        try:
            yield Cloud(handle, ["--store", dsn])
        finally:
            await handle.store.close()


async def test_verify_passes_then_fails_after_tampering(cloud: Cloud) -> None:
    await append_sequence(cloud.handle.store)
    await append_many(cloud.handle.store, 100)
    ok = cairn("audit", "verify", *cloud.flags)
    assert ok.status == 0, ok.err
    assert "The chain holds: 106 events verified" in ok.out
    assert cairn("audit", "verify", *cloud.flags, "--format", "json").json() == {
        "ok": True, "verified": 106, "last_position": 106, "head": 106, "broken": None,
    }  # fmt: skip

    await cloud.handle.sql("UPDATE events SET metadata = ? WHERE position = 5", b"{}")
    broken = cairn("audit", "verify", *cloud.flags)
    assert broken.status == 3
    assert "BROKEN at position 5" in broken.out
    assert "audit-req9" in broken.out
    report = cairn("audit", "verify", *cloud.flags, "--format", "json")
    assert report.status == 3
    body = report.json()
    assert isinstance(body, dict)
    assert body["ok"] is False
    assert body["verified"] == 4
    assert body["broken"]["position"] == 5
    assert body["broken"]["mismatch"] == "hash"
    assert body["broken"]["type"] == "AuditRequestDenied"


async def test_the_store_is_found_through_the_environment(cloud: Cloud) -> None:
    await append_sequence(cloud.handle.store)
    name, value = ("CAIRN_DATA_DIR", cloud.flags[1])
    if cloud.flags[0] == "--store":
        name = "CAIRN_STORE"
    # a setting only `cairn up` reads, even a bad one, does not stop an audit
    env = clean_env(**{name: value, "CAIRN_LISTEN": "nowhere", "CAIRN_LOG_LEVEL": "loud"})
    result = cairn("audit", "verify", env=env)
    assert result.status == 0, result.err
    assert "6 events verified" in result.out


async def test_replay_history_who_diff_and_check(cloud: Cloud) -> None:
    store = cloud.handle.store
    steps = await append_sequence(store)
    runner = ProjectionRunner(store, Streams())
    await runner.load()
    await runner.snapshot()

    replayed = cairn(
        "audit", "replay", "--at", str(steps["b_created"]), "streams", *cloud.flags,
        "--format", "json",
    )  # fmt: skip
    assert replayed.status == 0, replayed.err
    body = replayed.json()
    assert isinstance(body, dict)
    assert body["position"] == 3
    assert [r["stream"] for r in body["streams"]] == [
        f"quota-{THING_A}", f"thing-{THING_A}", "thing-5c1d2e3f-1111-4222-8333-944455556666",
    ]  # fmt: skip
    table = cairn("audit", "replay", "--at", "3", "--project", "p2", *cloud.flags)
    assert table.status == 0
    assert "streams: 1" in table.out
    assert "thing-5c1d2e3f" in table.out

    hist = cairn("audit", "history", THING_A, *cloud.flags, "--format", "json").json()
    assert isinstance(hist, list)
    assert [e["type"] for e in hist] == [
        "AuditThingCreated", "AuditThingCreated", "AuditThingRenamed", "AuditThingDeleted",
    ]  # fmt: skip
    who = cairn("audit", "who", BOB, *cloud.flags)
    assert who.status == 0
    assert "AuditRequestDenied" in who.out
    lines = who.out.splitlines()
    assert lines[0].split()[:5] == ["POSITION", "AT", "STREAM", "VERSION", "TYPE"]
    assert len(lines) == 4

    changes = cairn(
        "audit", "diff", str(steps["a_created"]), str(steps["a_deleted"]), *cloud.flags,
        "--format", "json",
    )  # fmt: skip
    body = changes.json()
    assert isinstance(body, dict)
    assert sorted(c["stream"] for c in body["streams"]) == [
        "audit-req9", f"thing-{THING_A}", "thing-5c1d2e3f-1111-4222-8333-944455556666",
    ]  # fmt: skip

    checked = cairn("audit", "check", *cloud.flags)
    assert checked.status == 0, checked.out
    assert "consistent" in checked.out
    await store.save_snapshot(Snapshot("streams", 1, 6, Streams().encode_state({})))
    diverged = cairn("audit", "check", *cloud.flags, "--format", "json")
    assert diverged.status == 3
    results = {r["projection"]: r for r in diverged.json()}  # type: ignore[attr-defined]
    assert results["identity"]["status"] == "no snapshot"  # no identity here
    result = results["streams"]
    assert result["status"] == "diverged"
    assert any(f"thing-{THING_A}" in d for d in result["differences"])


async def test_mistakes_are_one_line_errors(cloud: Cloud, tmp_path: Path) -> None:
    missing = cairn("audit", "verify", "--data-dir", str(tmp_path / "nowhere"))
    assert missing.status == 1
    assert missing.err.strip().splitlines() == [
        f"cairn: error: no event store at {tmp_path / 'nowhere' / 'cairn.sqlite'} "
        "(check --data-dir or --store)"
    ]
    assert not (tmp_path / "nowhere").exists()  # the audit creates nothing
    bad = cairn("audit", "replay", "--at", "yesterday", *cloud.flags)
    assert bad.status == 2
    assert len(bad.err.strip().splitlines()) == 1
    unknown = cairn("audit", "replay", "--at", "1", "nonsense", *cloud.flags)
    assert unknown.status == 2
    assert "no projection is registered as 'nonsense'" in unknown.err
    for argv in (["audit", "--help"], ["audit", "verify", "--help"], ["events", "tail", "--help"]):
        shown = cairn(*argv)
        assert shown.status == 0
        assert shown.out.startswith("usage: cairn")


async def test_events_tail_prints_the_log_and_filters_it(cloud: Cloud) -> None:
    await append_sequence(cloud.handle.store)
    everything = cairn("events", "tail", "--from", "0", "--no-follow", *cloud.flags)
    assert everything.status == 0
    assert len(everything.out.splitlines()) == 6
    assert everything.out.startswith("#1 ")
    denied = cairn(
        "events", "tail", "--from", "1", "--no-follow", "--type", "*Denied", *cloud.flags,
        "--format", "json",
    )  # fmt: skip
    rows = [json.loads(line) for line in denied.out.splitlines()]
    assert [(r["position"], r["user"]) for r in rows] == [(5, BOB)]
    some = cairn(
        "events", "tail", "--from", "2", "--no-follow", "--category", "thing", "--project",
        "p1", *cloud.flags,
    )  # fmt: skip
    assert [line.split()[0] for line in some.out.splitlines()] == ["#4", "#6"]
    by_id = cairn(
        "events", "tail", "--from", "0", "--no-follow", "--resource", THING_A, *cloud.flags
    )
    assert len(by_id.out.splitlines()) == 4


async def test_events_tail_follows_until_ctrl_c(cloud: Cloud) -> None:
    store = cloud.handle.store
    await append_sequence(store)
    process = await asyncio.create_subprocess_exec(
        str(CAIRN), "events", "tail", "--type", "AuditThing*", *cloud.flags,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=clean_env(),
    )  # fmt: skip
    assert process.stdout is not None
    try:
        # It starts at the head: nothing old is shown. Append (bounded) until the
        # tail, once started, shows a new event.
        deadline = time.monotonic() + 30
        line = ""
        while not line:
            assert time.monotonic() < deadline, "cairn events tail printed nothing"
            renamed = registry.new(AuditThingRenamed(name="z"), by(BOB))
            await store.append(StreamWrite(f"thing-{THING_A}", [renamed]))
            with contextlib.suppress(TimeoutError):
                line = (await asyncio.wait_for(process.stdout.readline(), 1.5)).decode()
        assert f"thing-{THING_A}" in line
        assert "AuditThingRenamed" in line
        assert int(line.split()[0][1:]) > 6
        process.send_signal(signal.SIGINT)
        _, err = await asyncio.wait_for(process.communicate(), 15)
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0
    stopped = err.decode()
    assert "stopped at position" in stopped
    assert int(stopped.split("stopped at position")[1].split()[0]) >= int(line.split()[0][1:])


# -- anchors (src/cairn/audit/anchor.py): a whole-log rewrite that recomputes every
# hash verifies on its own, but not against an anchor kept outside the log.


async def _rewrite_everything(cloud: Cloud, count: int) -> None:
    """What someone who can write the database does: a new log, every hash valid."""
    await cloud.handle.sql("DELETE FROM events")
    store = cloud.handle.store
    events = [registry.new(AuditThingRenamed(name=f"forged{i}"), by(ALICE)) for i in range(count)]
    await store.append(StreamWrite("thing-forged", events))


async def test_an_anchor_catches_a_rewrite_that_verifies(cloud: Cloud, tmp_path: Path) -> None:
    await append_sequence(cloud.handle.store)
    key, kept = tmp_path / "anchor.pem", tmp_path / "anchors.jsonl"
    made = cairn("audit", "anchor", *cloud.flags, "--key", str(key), "--append", str(kept))
    assert made.status == 0, made.err
    anchor = json.loads(made.out)
    assert anchor["position"] == 6
    assert len(anchor["hash"]) == 64
    assert kept.read_text().strip() == made.out.strip()
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    ok = cairn("audit", "verify", *cloud.flags, "--anchor", str(kept), "--key", str(key))
    assert ok.status == 0, ok.err
    assert "Every anchor holds." in ok.out

    await _rewrite_everything(cloud, 8)
    alone = cairn("audit", "verify", *cloud.flags)
    assert alone.status == 0, alone.out  # the forged log's chain holds on its own
    caught = cairn("audit", "verify", *cloud.flags, "--anchor", str(kept), "--key", str(key))
    assert caught.status == 3, caught.out + caught.err
    assert "position 6 was anchored" in caught.out
    body = cairn(
        "audit",
        "verify",
        *cloud.flags,
        "--anchor",
        str(kept),
        "--key",
        str(key),
        "--format",
        "json",
    ).json()
    assert isinstance(body, dict)
    assert body["ok"] is False
    assert "rewritten" in body["anchor"]


async def test_a_forged_or_foreign_anchor_is_refused(cloud: Cloud, tmp_path: Path) -> None:
    await append_sequence(cloud.handle.store)
    key, other = tmp_path / "anchor.pem", tmp_path / "other.pem"
    anchor = json.loads(cairn("audit", "anchor", *cloud.flags, "--key", str(key)).out)
    forged = tmp_path / "forged.jsonl"
    forged.write_text(json.dumps({**anchor, "position": 5}) + "\n")
    result = cairn("audit", "verify", *cloud.flags, "--anchor", str(forged), "--key", str(key))
    assert result.status not in (0, 3), result.out
    assert "bad signature" in result.err
    cairn("audit", "anchor", *cloud.flags, "--key", str(other))
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(anchor) + "\n")
    result = cairn("audit", "verify", *cloud.flags, "--anchor", str(good), "--key", str(other))
    assert "another key" in result.err
