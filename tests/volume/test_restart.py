"""A volume agent that starts again finishes what the log says it owes (requests
a crash left unfinished), drops half-made files, and leaves strays alone."""

from __future__ import annotations

import uuid

from cairn.agents.volume.agent import AgentConfig, VolumeAgent
from cairn.agents.volume.file_driver import FileVolumeDriver
from cairn.events import ANY_VERSION, NO_STREAM, registry
from cairn.events import volume as ev
from cairn.store.port import StreamWrite
from tests.volume.conftest import VolumeCloud


async def test_a_restarted_agent_finishes_the_work_it_owes(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    kept = (await cloud.volume(demo))["id"]
    doomed = (await cloud.volume(demo))["id"]
    await cloud.wait(f"/volumes/{kept}", demo)
    await cloud.wait(f"/volumes/{doomed}", demo)
    host = cloud.agent.host
    await cloud.agent.stop()  # as if killed: what follows is appended while it is away
    late = str(uuid.uuid4())
    requested = ev.VolumeCreateRequested(
        volume_id=late,
        project_id=demo.project_id,
        user_id=demo.user_id,
        name="late",
        description=None,
        size=2,
        volume_type_id="t",
        volume_type="__DEFAULT__",
        availability_zone="nova",
        host=host,
    )
    deleted = ev.VolumeDeleteRequested(volume_id=doomed, project_id=demo.project_id)
    await cloud.store.append(
        StreamWrite(f"volume-{late}", [registry.new(requested)], NO_STREAM),
        StreamWrite(f"volume-{doomed}", [registry.new(deleted)], ANY_VERSION),
    )
    (cloud.pool / "tmp" / f"volume-{late}.half").write_bytes(b"half a volume")
    (cloud.pool / "volume-stray").write_bytes(b"not ours")

    driver = FileVolumeDriver(cloud.pool)
    agent = VolumeAgent(cloud.store, driver, cloud.agent.images, AgentConfig(host=host))
    await agent.start()
    try:
        await agent.idle()
        await cloud.volumes.runner.wait_for(await cloud.store.head())
        state = cloud.volumes.state
        assert state.volumes[late].status == "available"
        assert await driver.size_of(late) == 2 * 1024**3
        assert doomed not in state.volumes
        assert not (cloud.pool / f"volume-{doomed}").exists()
        assert state.volumes[kept].status == "available"
        assert list((cloud.pool / "tmp").iterdir()) == []
        assert (cloud.pool / "volume-stray").exists()  # reported, not removed
        assert state.backends[host].running
    finally:
        await agent.stop()
