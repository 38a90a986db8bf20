"""Console output comes from the agent that owns the guest: the API never reads
a file on its own machine (src/cairn/api/compute/console.py). The agent's side
is tested on real guests (tests/agents/compute/test_agent_qemu.py,
tests/compute/test_real_guest.py) and on libvirt's test driver (501,
tests/compute/test_end_to_end.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.compute.conftest import ComputeCloud

from cairn.api.compute import console
from cairn.events import compute as ev


async def test_the_api_asks_the_host_and_never_reads_a_local_file(
    cloud: ComputeCloud, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "ANSWER_TIMEOUT", 0.5)
    await cloud.register_host("h1")
    owner = await cloud.member()
    _, answer = await cloud.boot(owner)
    server_id = answer["server"]["id"]
    await cloud.wait_for(lambda: server_id not in cloud.compute.state.pending)
    local = tmp_path / "console.log"
    local.write_text("LOCAL-FILE\n")
    spawned = ev.ServerSpawned(
        server_id=server_id,
        host="h1",
        launched_at="2026-12-03T10:00:00Z",
        instance_name="i",
        console_log=str(local),
    )
    await cloud.append(f"server-{server_id}", spawned)
    action = {"os-getConsoleOutput": {"length": 5}}
    status, body = await cloud.call("POST", f"/servers/{server_id}/action", owner, action)
    assert status == 503, body  # h1 runs no agent here: nobody answers
    assert "LOCAL-FILE" not in str(body)
    [recorded] = [
        e
        for e in await cloud.store.read_stream(ev.console_stream(server_id))
        if e.type == "ServerConsoleOutputRequested"
    ]
    assert b'"host":"h1"' in recorded.data
    assert b'"length":5' in recorded.data
