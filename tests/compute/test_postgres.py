"""The core of compute on PostgreSQL: a boot through the API, and the scheduler
race (two schedulers, room for half the servers) with appends in real transactions."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from tests.compute.conftest import ComputeCloud, default_images, settings_for, start_cloud
from tests.compute.test_races import _replayed_claims

from cairn.compute.scheduler import Scheduler, SchedulerConfig
from cairn.events import compute as ev
from cairn.projections.compute import ComputeProjection
from cairn.readmodel import ProjectionRunner


@pytest.fixture
async def pg_cloud(tmp_path: Path, pg_database: str) -> AsyncIterator[ComputeCloud]:
    made = await start_cloud(settings_for(tmp_path, store=pg_database), default_images())
    try:
        yield made
    finally:
        await made.client.close()


async def test_boot_and_delete_on_postgresql(pg_cloud: ComputeCloud) -> None:
    cloud = pg_cloud
    await cloud.register_host("h1")
    user = await cloud.member()
    status, body = await cloud.boot(user)
    assert status == 202
    server_id = body["server"]["id"]
    await cloud.wait_for(lambda: server_id in cloud.compute.state.hosts["h1"].claims)
    await cloud.append(f"server-{server_id}", ev.ServerSpawned(
        server_id=server_id, host="h1", launched_at="t", instance_name="i"))  # fmt: skip
    assert await cloud.server_status(server_id, user) == "ACTIVE"
    status, _ = await cloud.call("GET", f"/servers/{server_id}", await cloud.member())
    assert status == 404


async def test_no_host_overbooked_on_postgresql(pg_cloud: ComputeCloud) -> None:
    cloud = pg_cloud
    for index in range(2):
        await cloud.register_host(f"h{index}", vcpus=64, memory_mb=20 * 128)
    await cloud.call(
        "PUT", f"/os-quota-sets/{cloud.admin.project_id}",
        json={"quota_set": {"instances": -1, "cores": -1, "ram": -1}},
    )  # fmt: skip
    other_runner = ProjectionRunner(cloud.store, ComputeProjection())
    await other_runner.start()
    task = asyncio.create_task(Scheduler(cloud.store, other_runner, SchedulerConfig()).run())
    try:
        answers = await asyncio.gather(*(cloud.boot(name=f"vm-{i}") for i in range(80)))
        ids = [body["server"]["id"] for _, body in answers]
        state = cloud.compute.state
        await cloud.wait_for(lambda: all(state.servers[i].task_state != "scheduling" for i in ids))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await other_runner.stop()
    assert Counter(cloud.compute.state.servers[i].vm_state for i in ids) == {
        "building": 40, "error": 40,
    }  # fmt: skip
    for index in range(2):
        claims = await _replayed_claims(cloud.store, f"h{index}")
        assert sum(claims.values()) <= 20 * 128
