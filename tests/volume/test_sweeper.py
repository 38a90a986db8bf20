"""No volume stays creating when no agent finishes it: the deadline sweeper ends
it in error (and a restarted agent would not have to)."""

from __future__ import annotations

import time

from cairn.volume.sweeper import VolumeDeadlineSweeper
from tests.volume.conftest import VolumeCloud


async def test_a_volume_no_agent_makes_ends_in_error(cloud: VolumeCloud) -> None:
    await cloud.agent.stop()  # the backend is gone
    demo = await cloud.member()
    vid = (await cloud.volume(demo))["id"]
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
