"""The races the expected versions exist for: hosts never overbooked, quotas never exceeded.

Both are run with two deciders working on the same store at once, as two API
processes would: each with its own read model, so neither can rely on seeing
the other's decision before it makes its own.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from pathlib import Path

from tests.compute.conftest import IMAGE, ComputeCloud

from cairn.compute.config import ComputeConfig
from cairn.compute.errors import QuotaExceeded
from cairn.compute.images import MemoryImages
from cairn.compute.scheduler import Scheduler, SchedulerConfig
from cairn.compute.servers import BootRequest
from cairn.compute.service import Compute
from cairn.events import Metadata, registry
from cairn.events import compute as ev
from cairn.projections.compute import ComputeProjection
from cairn.readmodel import ProjectionRunner
from cairn.store import open_store
from cairn.store.port import EventStore, StreamWrite

HOSTS = 4
PER_HOST = 25  # m1.nano servers (128 MB) a host fits: 4 x 25 = 100 in all
BOOTS = 200


async def _replayed_claims(store: EventStore, host: str) -> dict[str, int]:
    """The host's claims read back from its stream (not from any read model)."""
    held: dict[str, int] = {}
    for recorded in await store.read_stream(f"computehost-{host}"):
        event = registry.decode(recorded)
        if isinstance(event, ev.HostResourcesClaimed):
            held[event.server_id] = event.amounts.memory_mb
        elif isinstance(event, ev.HostResourcesReleased):
            held.pop(event.server_id, None)
    return held


async def test_200_concurrent_boots_on_room_for_100(cloud: ComputeCloud) -> None:
    for index in range(HOSTS):
        await cloud.register_host(f"h{index}", vcpus=64, memory_mb=PER_HOST * 128, disk_gb=1000)
    status, _ = await cloud.call(
        "PUT", f"/os-quota-sets/{cloud.admin.project_id}",
        json={"quota_set": {"instances": -1, "cores": -1, "ram": -1}},
    )  # fmt: skip
    assert status == 200
    # A second scheduler with its own read model: as if in another API process.
    other_runner = ProjectionRunner(cloud.store, ComputeProjection())
    await other_runner.start()
    other = Scheduler(cloud.store, other_runner, SchedulerConfig())
    task = asyncio.create_task(other.run())
    try:
        answers = await asyncio.gather(*(cloud.boot(name=f"vm-{i}") for i in range(BOOTS)))
        assert [status for status, _ in answers] == [202] * BOOTS
        ids = [body["server"]["id"] for _, body in answers]
        state = cloud.compute.state
        await cloud.wait_for(lambda: all(state.servers[i].task_state != "scheduling" for i in ids))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        await other_runner.stop()

    outcome = Counter(cloud.compute.state.servers[i].vm_state for i in ids)
    assert outcome == {"building": 100, "error": 100}
    for server_id in ids:
        server = cloud.compute.state.servers[server_id]
        if server.vm_state == "error":
            assert server.fault is not None
            assert server.fault.message.startswith("No valid host was found")
    total = 0
    for index in range(HOSTS):
        claims = await _replayed_claims(cloud.store, f"h{index}")
        assert sum(claims.values()) <= PER_HOST * 128
        total += len(claims)
    assert total == 100
    status, body = await cloud.call("GET", "/servers/detail?status=ERROR&limit=1000")
    assert len(body["servers"]) == 100
    assert {s["fault"]["message"] for s in body["servers"]} == {"No valid host was found. "}


async def test_concurrent_boots_over_http_never_exceed_the_quota(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1", vcpus=64, memory_mb=64 * 1024)
    user = await cloud.member()
    answers = await asyncio.gather(*(cloud.boot(user, name=f"q-{i}") for i in range(30)))
    statuses = Counter(status for status, _ in answers)
    assert statuses == {202: 10, 403: 20}
    refused = next(body for status, body in answers if status == 403)
    assert "Quota exceeded for instances" in refused["forbidden"]["message"]
    assert cloud.compute.state.usage[user.project_id].instances == 10


async def test_two_processes_booting_at_once_never_exceed_the_quota(tmp_path: Path) -> None:
    store = await open_store(f"sqlite:///{tmp_path / 'cairn.sqlite'}")
    config = ComputeConfig(public_url="http://127.0.0.1:1", run_scheduler=False)
    first, second = (Compute(store, MemoryImages([IMAGE]), config) for _ in range(2))
    await first.start()
    await second.start()
    flavor = first.state.flavors["42"].snapshot()
    try:

        async def boot(compute: Compute, index: int) -> str:
            request = BootRequest(
                server_ids=[f"00000000-0000-4000-8000-{index:012d}"], project_id="p1",
                user_id="u1", name=f"vm-{index}", flavor=flavor, image=IMAGE,
                created_at="", reservation_id=f"r-{index}",
            )  # fmt: skip
            try:
                await compute.boot(Metadata(user_id="u1", project_id="p1"), request)
            except QuotaExceeded:
                return "refused"
            return "booted"

        outcomes = await asyncio.gather(*(boot(first if i % 2 else second, i) for i in range(30)))
        assert Counter(outcomes) == {"booted": 10, "refused": 20}
        consumed = [registry.decode(e) for e in await store.read_stream("computequota-p1")]
        assert len(consumed) == 10
        assert all(isinstance(e, ev.ComputeQuotaConsumed) for e in consumed)
    finally:
        await first.stop()
        await second.stop()
        await store.close()


async def test_two_processes_placing_boots_never_overbook(tmp_path: Path) -> None:
    """Boots are placed in their own append: two API processes booting at once race
    for the same hosts' capacity, and the host streams' versions decide."""
    store = await open_store(f"sqlite:///{tmp_path / 'cairn.sqlite'}")
    config = ComputeConfig(public_url="http://127.0.0.1:1", run_scheduler=True)
    first, second = (Compute(store, MemoryImages([IMAGE]), config) for _ in range(2))
    await first.start()
    await second.start()
    try:
        meta = Metadata(user_id="u1", project_id="p1")
        for index in range(2):
            event = ev.ComputeHostRegistered(
                host=f"h{index}", hypervisor_type="QEMU", hypervisor_version=1,
                hypervisor_uri="x", availability_zone="nova",
                capacity=ev.ResourceAmounts(vcpus=64, memory_mb=50 * 128, disk_gb=1000),
            )  # fmt: skip
            await store.append(StreamWrite(f"computehost-h{index}", [registry.new(event, meta)]))
        await store.append(StreamWrite("computequotaset-p1", [registry.new(
            ev.ComputeQuotaSetUpdated(project_id="p1", limits={"instances": -1, "cores": -1,
                                                               "ram": -1}), meta)]))  # fmt: skip
        await first.runner.wait_for(await store.head())
        await second.runner.wait_for(await store.head())
        flavor = first.state.flavors["42"].snapshot()

        async def boot(compute: Compute, index: int) -> str:
            server_id = f"00000000-0000-4000-8000-{index:012d}"
            request = BootRequest(
                server_ids=[server_id], project_id="p1", user_id="u1", name=f"vm-{index}",
                flavor=flavor, image=IMAGE, created_at="", reservation_id=f"r-{index}",
            )  # fmt: skip
            await compute.boot(meta, request)
            return server_id

        ids = await asyncio.gather(*(boot(first if i % 2 else second, i) for i in range(200)))
        await first.runner.wait_for(await store.head())
        outcome = Counter(first.state.servers[i].vm_state for i in ids)
        assert outcome == {"building": 100, "error": 100}
        for index in range(2):
            claims = await _replayed_claims(store, f"h{index}")
            assert sum(claims.values()) <= 50 * 128
    finally:
        await first.stop()
        await second.stop()
        await store.close()


async def test_stop_ends_the_boots_being_decided(tmp_path: Path) -> None:
    """Compute.stop() cancels the per-project boot tasks before its read model
    stops: none is left running, and their callers are not left waiting."""
    store = await open_store(f"sqlite:///{tmp_path / 'cairn.sqlite'}")
    config = ComputeConfig(public_url="http://127.0.0.1:1", run_scheduler=False)
    compute = Compute(store, MemoryImages([IMAGE]), config)
    await compute.start()
    flavor = compute.state.flavors["42"].snapshot()
    try:

        def request(i: int) -> BootRequest:
            return BootRequest(
                server_ids=[f"00000000-0000-4000-8000-{i:012d}"], project_id=f"p{i}",
                user_id="u1", name=f"vm-{i}", flavor=flavor, image=IMAGE, created_at="",
                reservation_id=f"r-{i}",
            )  # fmt: skip

        meta = Metadata(user_id="u1", project_id="p")
        boots = [asyncio.create_task(compute.boot(meta, request(i))) for i in range(5)]
        await asyncio.sleep(0)  # each boot has queued its request and started its drain
        draining = [t for t in asyncio.all_tasks() if t.get_name().startswith("compute-boots-")]
        assert draining
        await compute.stop()
        assert all(task.done() for task in draining)
        async with asyncio.timeout(5):
            await asyncio.gather(*boots, return_exceptions=True)
    finally:
        await store.close()
