"""A server brought to ACTIVE the way its agent would: the spawn's own event."""

from __future__ import annotations

from typing import Any

from tests.cloud_api import Caller
from tests.compute.conftest import ComputeCloud

from cairn.events import compute as ev

ADDRESSES: dict[str, list[dict[str, str | int]]] = {
    "private": [
        {
            "version": 4,
            "addr": "10.0.0.5",
            "OS-EXT-IPS:type": "fixed",
            "OS-EXT-IPS-MAC:mac_addr": "fa:16:3e:00:00:05",
        },
    ]
}


async def running_server(
    cloud: ComputeCloud,
    who: Caller,
    host: str = "h1",
    launched_at: str = "2026-12-03T10:00:00.000000",
    **server: Any,
) -> str:
    """Boot (``host`` must be registered), wait for the placement, then spawn."""
    status, answer = await cloud.boot(who, **server)
    assert status == 202, answer
    server_id: str = answer["server"]["id"]
    await cloud.wait_for(lambda: server_id not in cloud.compute.state.pending)
    spawned = ev.ServerSpawned(
        server_id=server_id,
        host=host,
        launched_at=launched_at,
        instance_name=f"instance-{server_id[:8]}",
        addresses=ADDRESSES,
    )
    await cloud.append(f"server-{server_id}", spawned)
    return server_id
