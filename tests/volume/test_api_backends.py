"""What admins see of the backend: services, hosts, pools and capabilities from
the volume agent's registration and heartbeats; quota classes."""

from __future__ import annotations

from tests.volume.conftest import VolumeCloud


async def test_the_agent_is_a_service_with_a_pool(cloud: VolumeCloud) -> None:
    host = cloud.agent.host
    services = (await cloud.ok("GET", "/os-services"))["services"]
    assert [(s["binary"], s["host"], s["state"], s["status"]) for s in services] == [
        ("cinder-scheduler", host.split("@")[0], "up", "enabled"),
        ("cinder-volume", host.split("#")[0], "up", "enabled"),
    ]
    only = (await cloud.ok("GET", f"/os-services?host={host.split('#')[0]}"))["services"]
    assert [s["binary"] for s in only] == ["cinder-volume"]
    filtered = (await cloud.ok("GET", "/os-services?binary=cinder-backup"))["services"]
    assert filtered == []
    hosts = (await cloud.ok("GET", "/os-hosts"))["hosts"]
    assert [(h["service"], h["service-status"]) for h in hosts] == [
        ("cinder-scheduler", "available"),
        ("cinder-volume", "available"),
    ]
    pools = (await cloud.ok("GET", "/scheduler-stats/get_pools?detail=True"))["pools"]
    assert [p["name"] for p in pools] == [host]
    capabilities = pools[0]["capabilities"]
    assert capabilities["total_capacity_gb"] >= capabilities["free_capacity_gb"] > 0
    assert capabilities["driver_version"].startswith("qemu-img version")
    shown = await cloud.ok("GET", f"/capabilities/{host.split('#')[0]}")
    assert shown["volume_backend_name"] == capabilities["volume_backend_name"] == "file"
    status, _ = await cloud.call("GET", "/capabilities/nowhere@none")
    assert status == 404
    demo = await cloud.member()
    for path in ("/os-services", "/os-hosts", "/scheduler-stats/get_pools"):
        status, body = await cloud.call("GET", path, demo)
        assert status == 403, path
        assert body["forbidden"]["code"] == 403
    await cloud.agent.stop()
    services = (await cloud.ok("GET", "/os-services?binary=cinder-volume"))["services"]
    assert services[0]["state"] == "down"


async def test_quota_classes_change_every_projects_defaults(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    shown = (await cloud.ok("GET", "/os-quota-class-sets/default"))["quota_class_set"]
    assert (shown["id"], shown["volumes"]) == ("default", 10)
    status, _ = await cloud.call("GET", "/os-quota-class-sets/default", demo)
    assert status == 403
    status, _ = await cloud.call(
        "PUT", "/os-quota-class-sets/default", None, {"quota_class_set": {"volumes": "x"}}
    )
    assert status == 400
    updated = await cloud.ok(
        "PUT", "/os-quota-class-sets/default", None, {"quota_class_set": {"volumes": 2}}
    )
    assert updated["quota_class_set"]["volumes"] == 2
    mine = (await cloud.ok("GET", f"/os-quota-sets/{demo.project_id}", demo))["quota_set"]
    assert mine["volumes"] == 2
    defaults = await cloud.ok("GET", f"/os-quota-sets/{demo.project_id}/defaults", demo)
    assert defaults["quota_set"]["volumes"] == 2
    await cloud.volume(demo)
    await cloud.volume(demo)
    status, _ = await cloud.call("POST", "/volumes", demo, {"volume": {"size": 1}})
    assert status == 413


async def test_show_host(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    vid = (await cloud.volume(demo, size=2))["id"]
    await cloud.wait(f"/volumes/{vid}", demo)
    host = cloud.agent.host.split("#")[0]
    resources = [r["resource"] for r in (await cloud.ok("GET", f"/os-hosts/{host}"))["host"]]
    assert resources[0]["project"] == "(total)"
    mine = next(r for r in resources if r["project"] == demo.project_id)
    assert (mine["volume_count"], mine["total_volume_gb"]) == ("1", "2")
    status, _ = await cloud.call("GET", "/os-hosts/elsewhere@x")
    assert status == 404


async def test_disable_and_freeze_a_backend(cloud: VolumeCloud) -> None:
    demo = await cloud.member()
    host = cloud.agent.host.split("#")[0]
    services = "/os-services"
    status, _ = await cloud.call("PUT", f"{services}/enable", None, {"host": "nowhere"})
    assert status == 404
    status, _ = await cloud.call(
        "PUT", f"{services}/disable", None, {"host": host, "binary": "invalid_binary"}
    )
    assert status == 404
    status, _ = await cloud.call(
        "PUT", f"{services}/disable-log-reason", None, {"host": host, "disabled_reason": None}
    )
    assert status == 400
    for action in ("freeze", "thaw"):
        status, _ = await cloud.call("PUT", f"{services}/{action}", None, {"host": "nowhere"})
        assert status == 400
    status, _ = await cloud.call("PUT", f"{services}/disable", demo, {"host": host})
    assert status == 403
    answer = await cloud.ok(
        "PUT",
        f"{services}/disable-log-reason",
        None,
        {"host": host, "binary": "cinder-volume", "disabled_reason": "disk swap"},
    )
    assert (answer["status"], answer["disabled_reason"]) == ("disabled", "disk swap")
    listed = (await cloud.ok("GET", f"{services}?binary=cinder-volume"))["services"]
    assert (listed[0]["status"], listed[0]["disabled_reason"]) == ("disabled", "disk swap")
    refused = await cloud.volume(demo)
    assert refused["status"] == "error"  # no backend may take it
    await cloud.ok("PUT", f"{services}/enable", None, {"host": host, "binary": "cinder-volume"})
    await cloud.wait(f"/volumes/{(await cloud.volume(demo))['id']}", demo)
    await cloud.ok("PUT", f"{services}/freeze", None, {"host": host})
    listed = (await cloud.ok("GET", f"{services}?binary=cinder-volume"))["services"]
    assert listed[0]["frozen"] is True
    assert (await cloud.volume(demo))["status"] == "error"
    await cloud.ok("PUT", f"{services}/thaw", None, {"host": host})
    await cloud.wait(f"/volumes/{(await cloud.volume(demo))['id']}", demo)
