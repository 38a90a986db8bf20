"""No volume stays creating when no agent finishes it: the deadline sweeper ends
it in error."""

from __future__ import annotations

import time
import uuid

from cairn.events import NO_STREAM, registry
from cairn.events import volume as ev
from cairn.store.port import StreamWrite
from cairn.volume.sweeper import VolumeDeadlineSweeper
from tests.volume.conftest import VolumeCloud


async def test_a_volume_no_agent_makes_ends_in_error(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    # a volume placed on a backend whose agent is gone for good
    vid = str(uuid.uuid4())
    requested = ev.VolumeCreateRequested(
        volume_id=vid,
        project_id=demo.project_id,
        user_id=demo.user_id,
        name="ghost",
        description=None,
        size=1,
        volume_type_id="t",
        volume_type="__DEFAULT__",
        availability_zone="nova",
        host="ghost@file#file",
    )
    result = await cloud.store.append(
        StreamWrite(f"volume-{vid}", [registry.new(requested)], NO_STREAM)
    )
    await cloud.volumes.runner.wait_for(result.position)
    sweeper = VolumeDeadlineSweeper(cloud.store, cloud.volumes.runner, 900, 1)
    assert await sweeper.sweep() == 0  # not yet late
    assert cloud.volumes.state.volumes[vid].status == "creating"
    sweeper.clock = lambda: time.time() + 901
    assert await sweeper.sweep() == 1
    shown = (await cloud.ok("GET", f"/volumes/{vid}", demo))["volume"]
    assert shown["status"] == "error"
    assert "no volume backend" in cloud.volumes.state.volumes[vid].reason
    assert await sweeper.sweep() == 0  # an error is not transitional
    await cloud.ok("DELETE", f"/volumes/{vid}", demo)  # error volumes can be deleted
    assert cloud.volumes.state.volumes[vid].status == "deleting"
    assert await sweeper.sweep() == 1
    assert cloud.volumes.state.volumes[vid].status == "error_deleting"
