"""Resize, confirm, revert and migrate at the API: states, claims, quota, migration
records and Nova's refusals. No agent here: its outcomes are appended as it would."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from tests.compute.conftest import ComputeCloud, default_images, settings_for, start_cloud
from tests.compute.running import running_server

from cairn.events import compute as ev
from cairn.events import compute_migration as mev

NANO, MICRO, TINY = "42", "84", "1"


async def _act(cloud: ComputeCloud, server_id: str, body: Any, who: Any = None) -> Any:
    return await cloud.call("POST", f"/servers/{server_id}/action", who, body, version="2.100")


async def _show(cloud: ComputeCloud, server_id: str, who: Any = None) -> dict[str, Any]:
    status, body = await cloud.call("GET", f"/servers/{server_id}", who, version="2.100")
    assert status == 200, body
    shown: dict[str, Any] = body["server"]
    return shown


async def _hypervisor(cloud: ComputeCloud) -> dict[str, Any]:
    status, body = await cloud.call("GET", "/os-hypervisors/detail", version="2.87")
    assert status == 200, body
    found: dict[str, Any] = body["hypervisors"][0]
    return found


def _usage(cloud: ComputeCloud, project_id: str) -> tuple[int, int]:
    usage = cloud.compute.state.usage[project_id]
    return usage.cores, usage.ram_mb


async def _agent_resizes(cloud: ComputeCloud, server_id: str) -> str:
    """What the agent appends for the resize in flight: progress, then VERIFY_RESIZE."""
    migration_id = cloud.compute.state.servers[server_id].migration_id
    assert migration_id is not None
    for task in ("resize_migrating", "resize_migrated", "resize_finish"):
        await cloud.append(
            f"server-{server_id}",
            mev.ServerResizeProgressed(
                server_id=server_id, host="h1", migration_id=migration_id, task_state=task
            ),
        )
        shown = await _show(cloud, server_id)
        assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("RESIZE", task)
    await cloud.append(
        f"server-{server_id}",
        mev.ServerResized(server_id=server_id, host="h1", migration_id=migration_id, power_state=1),
    )
    return migration_id


async def _agent_settles(
    cloud: ComputeCloud, server_id: str, project_id: str, kept: str, flavor: tuple[int, int]
) -> None:
    migration_id = cloud.compute.state.servers[server_id].migration_id
    assert migration_id is not None
    done: ev.DomainEvent
    if kept == "new":
        done = mev.ServerResizeConfirmed(
            server_id=server_id,
            host="h1",
            migration_id=migration_id,
            vm_state="active",
            power_state=1,
        )
    else:
        done = mev.ServerResizeReverted(
            server_id=server_id,
            host="h1",
            migration_id=migration_id,
            vm_state="active",
            power_state=1,
        )
    await cloud.append(f"server-{server_id}", done)
    await cloud.append(
        "computehost-h1",
        mev.HostClaimResizeSettled(
            host="h1", server_id=server_id, kept=kept, migration_id=migration_id
        ),
    )
    await cloud.append(
        f"computequota-{project_id}",
        mev.ComputeQuotaResized(
            project_id=project_id, server_id=server_id, cores=flavor[0], ram_mb=flavor[1]
        ),
    )


async def test_resize_confirm_then_resize_revert(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)
    project = cloud.compute.state.servers[server_id].project_id
    assert (await _hypervisor(cloud))["memory_mb_used"] == 128

    status, _ = await _act(cloud, server_id, {"resize": {"flavorRef": MICRO}}, owner)
    assert status == 202
    shown = await _show(cloud, server_id, owner)
    assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("RESIZE", "resize_prep")
    assert shown["OS-EXT-STS:vm_state"] == "active"
    # The host holds both flavors' claims; the quota counts the larger one.
    assert (await _hypervisor(cloud))["memory_mb_used"] == 128 + 256
    assert _usage(cloud, project) == (1, 256)

    await _agent_resizes(cloud, server_id)
    shown = await _show(cloud, server_id, owner)
    assert (shown["status"], shown["OS-EXT-STS:vm_state"]) == ("VERIFY_RESIZE", "resized")
    assert shown["flavor"]["original_name"] == "m1.micro"
    assert (await _hypervisor(cloud))["memory_mb_used"] == 128 + 256
    status, body = await cloud.call("GET", "/os-migrations", version="2.80")
    assert status == 200, body
    (migration,) = body["migrations"]
    assert migration["status"] == "finished"
    assert migration["migration_type"] == "resize"
    assert migration["instance_uuid"] == server_id
    assert (migration["old_instance_type_id"], migration["new_instance_type_id"]) == (42, 84)
    assert (migration["source_compute"], migration["dest_compute"]) == ("h1", "h1")
    assert migration["project_id"] == project

    status, _ = await _act(cloud, server_id, {"confirmResize": None}, owner)
    assert status == 204
    status, body = await cloud.call("GET", "/os-migrations?status=confirming", version="2.59")
    assert [m["uuid"] for m in body["migrations"]] == [migration["uuid"]]
    await _agent_settles(cloud, server_id, project, "new", (1, 256))
    shown = await _show(cloud, server_id, owner)
    assert (shown["status"], shown["flavor"]["original_name"]) == ("ACTIVE", "m1.micro")
    assert (await _hypervisor(cloud))["memory_mb_used"] == 256
    assert _usage(cloud, project) == (1, 256)

    # Back down to m1.nano, then revert: the m1.micro guest again.
    status, _ = await _act(cloud, server_id, {"resize": {"flavorRef": NANO}}, owner)
    assert status == 202
    assert (await _hypervisor(cloud))["memory_mb_used"] == 256 + 128
    assert _usage(cloud, project) == (1, 256)  # a resize down gives back on confirm only
    await _agent_resizes(cloud, server_id)
    status, _ = await _act(cloud, server_id, {"revertResize": None}, owner)
    assert status == 202
    shown = await _show(cloud, server_id, owner)
    assert (shown["status"], shown["OS-EXT-STS:task_state"]) == (
        "REVERT_RESIZE",
        "resize_reverting",
    )
    await _agent_settles(cloud, server_id, project, "old", (1, 256))
    shown = await _show(cloud, server_id, owner)
    assert (shown["status"], shown["flavor"]["original_name"]) == ("ACTIVE", "m1.micro")
    assert (await _hypervisor(cloud))["memory_mb_used"] == 256

    status, body = await cloud.call("GET", f"/servers/{server_id}/os-instance-actions", owner)
    actions = [a["action"] for a in body["instanceActions"]]
    assert actions[:4] == ["revertResize", "resize", "confirmResize", "resize"]
    status, body = await cloud.call("GET", "/os-migrations", version="2.1")
    assert [m["status"] for m in body["migrations"]] == ["reverted", "confirmed"]
    assert "uuid" not in body["migrations"][0]
    assert "migration_type" not in body["migrations"][0]
    status, body = await cloud.call(
        "GET", f"/os-migrations?instance_uuid={server_id}&limit=1", version="2.59"
    )
    assert len(body["migrations"]) == 1
    assert "migrations_links" in body


async def test_refusals(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    owner, stranger = await cloud.member(), await cloud.member()
    server_id = await running_server(cloud, owner)
    for body, message in (
        ({"resize": {"flavorRef": NANO}}, "When resizing, instances must change flavor!"),
        ({"resize": {"flavorRef": "nope"}}, "Unable to locate requested flavor."),
        ({"resize": {"flavorRef": TINY, "OS-DCF:diskConfig": "SOMETIMES"}}, None),
        ({"resize": {"flavorRef": TINY, "extra": 1}}, None),
        ({"resize": {}}, None),
        ({"resize": None}, None),
        ({"resize": {"flavorRef": ""}}, None),
        ({"confirmResize": {"x": 1}}, None),
    ):
        status, answer = await _act(cloud, server_id, body, owner)
        assert status == 400, (body, answer)
        assert answer["badRequest"]["code"] == 400
        if message:
            assert answer["badRequest"]["message"] == message
    # a smaller root disk: m1.small (20 GB) down to m1.tiny (1 GB)
    small = await running_server(cloud, owner, flavorRef="2")
    status, answer = await _act(cloud, small, {"resize": {"flavorRef": TINY}}, owner)
    assert status == 400
    assert "smaller" in answer["badRequest"]["message"]
    # not resized: confirm and revert are 409s
    for action in ("confirmResize", "revertResize"):
        status, answer = await _act(cloud, server_id, {action: None}, owner)
        assert status == 409, answer
        assert answer["conflictingRequest"]["code"] == 409
    # another project's server
    status, answer = await _act(cloud, server_id, {"resize": {"flavorRef": MICRO}}, stranger)
    assert status == 404
    assert answer["itemNotFound"]["code"] == 404
    # migrate is an admin's
    status, answer = await _act(cloud, server_id, {"migrate": None}, owner)
    assert status == 403
    # locked
    assert (await _act(cloud, server_id, {"lock": None}, owner))[0] == 202
    status, answer = await _act(cloud, server_id, {"resize": {"flavorRef": MICRO}}, owner)
    assert status == 409
    assert "locked" in answer["conflictingRequest"]["message"]
    assert (await _act(cloud, server_id, {"unlock": None}, owner))[0] == 202
    # in a task: a second resize is a 409
    assert (await _act(cloud, server_id, {"resize": {"flavorRef": MICRO}}, owner))[0] == 202
    status, answer = await _act(cloud, server_id, {"resize": {"flavorRef": TINY}}, owner)
    assert status == 409
    assert "resize_prep" in answer["conflictingRequest"]["message"]
    # nothing of the refused requests was stored
    assert len(cloud.compute.state.migrations) == 1


async def test_migrate_with_no_other_host_is_no_valid_host(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)
    before = await _hypervisor(cloud)
    status, _ = await _act(cloud, server_id, {"migrate": None})
    assert status == 202
    shown = await _show(cloud, server_id)
    assert (shown["status"], shown["OS-EXT-STS:task_state"]) == ("ACTIVE", None)
    assert "fault" not in shown  # Nova shows a fault only in ERROR
    action = cloud.compute.state.servers[server_id].actions[-1]
    assert (action.action, action.message) == ("migrate", "Error")
    assert action.events[0].details == "No valid host was found. "
    status, body = await cloud.call(
        "GET", "/os-migrations?migration_type=migration", version="2.23"
    )
    assert [m["status"] for m in body["migrations"]] == ["error"]
    assert (await _hypervisor(cloud))["memory_mb_used"] == before["memory_mb_used"]
    status, body = await cloud.call("GET", f"/servers/{server_id}/os-instance-actions")
    assert body["instanceActions"][0]["action"] == "migrate"
    for body_, code in (
        ({"migrate": {"host": "h1"}}, 400),
        ({"migrate": {"host": "elsewhere"}}, 400),
        ({"migrate": {"host": 5}}, 400),
        ({"migrate": {"hots": "h1"}}, 400),
    ):
        status, answer = await _act(cloud, server_id, body_)
        assert status == code, (body_, answer)
    status, answer = await cloud.call(
        "POST", f"/servers/{server_id}/action", json={"migrate": {"host": "h1"}}, version="2.55"
    )
    assert status == 400


async def test_a_host_without_room_is_no_valid_host_and_quota_is_a_403(
    cloud: ComputeCloud,
) -> None:
    await cloud.register_host("h1", memory_mb=600)
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)
    status, _ = await _act(cloud, server_id, {"resize": {"flavorRef": TINY}}, owner)
    assert status == 202  # 128 + 512 MB do not fit in 600: nothing claimed
    shown = await _show(cloud, server_id, owner)
    assert shown["status"] == "ACTIVE"
    assert cloud.compute.state.servers[server_id].actions[-1].message == "Error"
    assert (await _hypervisor(cloud))["memory_mb_used"] == 128
    project = cloud.compute.state.servers[server_id].project_id
    status, _ = await cloud.call(
        "PUT", f"/os-quota-sets/{project}", json={"quota_set": {"ram": 200}}
    )
    assert status == 200
    status, answer = await _act(cloud, server_id, {"resize": {"flavorRef": MICRO}}, owner)
    assert status == 403, answer
    assert "ram" in answer["forbidden"]["message"]
    assert _usage(cloud, project) == (1, 128)
    # Over the quota and too large for any host: the quota answers first (Nova's
    # API checks it before the scheduler), as Tempest's overlimit-ram test expects.
    status, answer = await cloud.call(
        "POST", "/flavors", json={"flavor": {"name": "huge", "ram": 4096, "vcpus": 1, "disk": 1}}
    )
    assert status == 200, answer
    huge = answer["flavor"]["id"]
    status, answer = await _act(cloud, server_id, {"resize": {"flavorRef": huge}}, owner)
    assert status == 403, answer
    assert answer["forbidden"]["message"].startswith("Quota exceeded for ram")
    assert len(cloud.compute.state.migrations) == 1  # only the NoValidHost one


async def _reset(cloud: ComputeCloud, server_id: str) -> None:
    status, answer = await _act(cloud, server_id, {"os-resetState": {"state": "active"}})
    assert status == 202, answer


async def test_a_reset_during_a_resize_settles_its_claim_and_quota(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)
    project = cloud.compute.state.servers[server_id].project_id

    # Reset before the agent finished: the old flavor kept, the new claim released.
    assert (await _act(cloud, server_id, {"resize": {"flavorRef": MICRO}}, owner))[0] == 202
    assert (await _hypervisor(cloud))["memory_mb_used"] == 128 + 256
    await _reset(cloud, server_id)
    shown = await _show(cloud, server_id, owner)
    assert (shown["status"], shown["flavor"]["original_name"]) == ("ACTIVE", "m1.nano")
    assert (await _hypervisor(cloud))["memory_mb_used"] == 128
    assert _usage(cloud, project) == (1, 128)
    status, body = await cloud.call("GET", "/os-migrations", version="2.59")
    assert [m["status"] for m in body["migrations"]] == ["error"]

    # Reset in VERIFY_RESIZE: the new flavor (the guest's now) kept, the old claim released.
    assert (await _act(cloud, server_id, {"resize": {"flavorRef": MICRO}}, owner))[0] == 202
    await _agent_resizes(cloud, server_id)
    await _reset(cloud, server_id)
    shown = await _show(cloud, server_id, owner)
    assert (shown["status"], shown["flavor"]["original_name"]) == ("ACTIVE", "m1.micro")
    assert (await _hypervisor(cloud))["memory_mb_used"] == 256
    assert _usage(cloud, project) == (1, 256)
    status, body = await cloud.call("GET", "/os-migrations", version="2.59")
    assert [m["status"] for m in body["migrations"]] == ["error", "error"]
    for action in ("confirmResize", "revertResize"):
        status, answer = await _act(cloud, server_id, {action: None}, owner)
        assert status == 409, answer

    # A reset with no resize under way settles nothing.
    before = await _hypervisor(cloud)
    await _reset(cloud, server_id)
    assert (await _hypervisor(cloud))["memory_mb_used"] == before["memory_mb_used"]
    assert _usage(cloud, project) == (1, 256)


async def test_deleting_a_server_in_verify_resize_confirms_its_migration(
    cloud: ComputeCloud,
) -> None:
    await cloud.register_host("h1")
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)
    assert (await _act(cloud, server_id, {"resize": {"flavorRef": MICRO}}, owner))[0] == 202
    migration_id = await _agent_resizes(cloud, server_id)
    status, _ = await cloud.call("DELETE", f"/servers/{server_id}", owner)
    assert status == 204
    status, body = await cloud.call("GET", "/os-migrations", version="2.59")
    assert [(m["uuid"], m["status"]) for m in body["migrations"]] == [(migration_id, "confirmed")]
    # one deleted mid-resize: nothing will finish its migration
    other = await running_server(cloud, owner)
    assert (await _act(cloud, other, {"resize": {"flavorRef": MICRO}}, owner))[0] == 202
    status, _ = await cloud.call("DELETE", f"/servers/{other}", owner)
    assert status == 204
    status, body = await cloud.call("GET", f"/os-migrations?instance_uuid={other}", version="2.59")
    assert [m["status"] for m in body["migrations"]] == ["error"]


async def test_auto_confirm_after_the_window(tmp_path: Path) -> None:
    cloud = await start_cloud(settings_for(tmp_path, resize_confirm_window=1.0), default_images())
    try:
        await cloud.register_host("h1")
        owner = await cloud.member()
        server_id = await running_server(cloud, owner)
        assert (await _act(cloud, server_id, {"resize": {"flavorRef": MICRO}}, owner))[0] == 202
        await _agent_resizes(cloud, server_id)
        assert await cloud.compute.confirm_due() == 0  # the window has not passed
        await asyncio.sleep(1.1)
        assert await cloud.compute.confirm_due() == 1
        migration = next(iter(cloud.compute.state.migrations.values()))
        assert migration.status == "confirming"
        server = cloud.compute.state.servers[server_id]
        assert server.actions[-1].action == "confirmResize"
        assert server.actions[-1].user_id == "cairn-resize-confirmer"
        assert await cloud.compute.confirm_due() == 0  # asked once
    finally:
        await cloud.client.close()
