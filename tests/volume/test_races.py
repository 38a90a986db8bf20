"""Concurrent volume creates never pass a project's quota.

Two deciders share the store as two API processes would: the cloud's own (HTTP
requests) and a second :class:`Volumes` on its own read model. Their appends
race on the project's ``volquota-<project>`` stream; the expected versions must
keep them honest, on SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from pathlib import Path

import pytest

from cairn.events import Metadata
from cairn.projections.volume import VolumeState
from cairn.volume import volumes as decide
from cairn.volume.access import Caller as DomainCaller
from cairn.volume.errors import VolumeError
from cairn.volume.service import Volumes
from cairn.volume.volumes import CreateVolume
from cairn.volume.writes import Writes
from tests.volume.conftest import VolumeCloud, settings_for, start_cloud


async def _race(cloud: VolumeCloud, total: int, size: int, gigabytes: int) -> Counter[str]:
    demo = await cloud.member()
    pid = demo.project_id
    await cloud.ok("PUT", f"/os-quota-sets/{pid}", None, {"quota_set": {"gigabytes": gigabytes}})
    second = Volumes(cloud.store, cloud.volumes.config)
    await second.start()
    who = DomainCaller(project_id=pid, user_id=demo.user_id)

    async def by_http() -> str:
        status, _ = await cloud.call("POST", "/volumes", demo, {"volume": {"size": size}})
        return {202: "ok", 413: "over"}.get(status, str(status))

    async def by_second() -> str:
        wanted = CreateVolume(volume_id=str(uuid.uuid4()), size=size)

        def command(state: VolumeState, w: Writes) -> None:
            decide.create(state, who, second.config, wanted, w)

        try:
            await second.run(Metadata(user_id=demo.user_id, project_id=pid), command)
        except VolumeError as exc:
            return "over" if exc.status == 413 else type(exc).__name__
        return "ok"

    try:
        outcomes = await asyncio.gather(
            *(by_http() if i % 2 else by_second() for i in range(total))
        )
    finally:
        await second.stop()
    await cloud.volumes.runner.wait_for(await cloud.store.head())
    used = sum(v.size for v in cloud.volumes.state.volumes.values() if v.project_id == pid)
    assert used <= gigabytes
    usage = (await cloud.ok("GET", f"/os-quota-sets/{pid}?usage=true", demo))["quota_set"]
    assert usage["gigabytes"]["in_use"] == used
    return Counter(outcomes)


async def test_concurrent_creates_never_pass_the_gigabytes_quota(cloud: VolumeCloud) -> None:
    outcomes = await _race(cloud, total=24, size=2, gigabytes=10)
    assert outcomes == Counter({"ok": 5, "over": 19})


@pytest.mark.postgres
async def test_concurrent_creates_on_postgres(tmp_path: Path, pg_database: str) -> None:
    cloud = await start_cloud(settings_for(tmp_path, store=pg_database))
    try:
        outcomes = await _race(cloud, total=24, size=3, gigabytes=10)
        assert outcomes == Counter({"ok": 3, "over": 21})
        await cloud.agent.idle()
    finally:
        await cloud.client.close()
