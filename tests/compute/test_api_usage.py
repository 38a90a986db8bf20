"""os-simple-tenant-usage and os-instance_usage_audit_log, computed from the log."""

from __future__ import annotations

import pytest
from tests.compute.conftest import ComputeCloud
from tests.compute.running import running_server

from cairn.events import compute as ev

DAY = "2026-11-02"
PERIOD = f"start={DAY}T09:00:00&end={DAY}T12:00:00"


async def _delete(cloud: ComputeCloud, server_id: str, at: str) -> None:
    await cloud.append(f"server-{server_id}", ev.ServerDeleted(server_id=server_id, deleted_at=at))


async def test_usage_is_the_seconds_each_server_ran_times_its_flavor(
    cloud: ComputeCloud,
) -> None:
    await cloud.register_host("h1")
    owner, other = await cloud.member(), await cloud.member()
    # 10:00:00 -> 11:30:00, m1.nano (1 vCPU, 128 MB, 1 GB): 1.5 h.
    gone = await running_server(cloud, owner, launched_at=f"{DAY}T10:00:00Z")
    await _delete(cloud, gone, f"{DAY}T11:30:00Z")
    # 08:00:00 -> still running, m1.micro (1 vCPU, 256 MB, 1 GB): clipped to 09:00-12:00, 3 h.
    kept = await running_server(cloud, owner, launched_at=f"{DAY}T08:00:00Z", flavorRef="84")
    # Launched after the period and ended before it: nothing.
    await running_server(cloud, owner, launched_at=f"{DAY}T12:00:01Z")
    early = await running_server(cloud, owner, launched_at=f"{DAY}T07:00:00Z")
    await _delete(cloud, early, f"{DAY}T08:59:59Z")
    await running_server(cloud, other, launched_at=f"{DAY}T11:59:30Z")  # 30 s

    path = f"/os-simple-tenant-usage/{owner.project_id}?{PERIOD}"
    status, body = await cloud.call("GET", path, owner)
    assert status == 200, body
    usage = body["tenant_usage"]
    assert usage["total_hours"] == pytest.approx(4.5)
    assert usage["total_memory_mb_usage"] == pytest.approx(1.5 * 128 + 3 * 256)
    assert usage["total_vcpus_usage"] == pytest.approx(4.5)
    assert usage["total_local_gb_usage"] == pytest.approx(4.5)
    assert (usage["start"], usage["stop"]) == (f"{DAY}T09:00:00.000000", f"{DAY}T12:00:00.000000")
    by_id = {u["instance_id"]: u for u in usage["server_usages"]}
    assert set(by_id) == {gone, kept}
    assert by_id[gone]["state"] == "terminated"
    assert by_id[gone]["ended_at"] == f"{DAY}T11:30:00.000000"
    assert by_id[gone]["uptime"] == 5400
    assert (by_id[kept]["flavor"], by_id[kept]["memory_mb"]) == ("m1.micro", 256)
    assert by_id[kept]["ended_at"] is None
    assert by_id[kept]["state"] == "active"

    status, body = await cloud.call("GET", f"/os-simple-tenant-usage?{PERIOD}&detailed=1")
    totals = {t["tenant_id"]: t for t in body["tenant_usages"]}
    assert totals[other.project_id]["total_hours"] == pytest.approx(30 / 3600)
    assert len(totals[owner.project_id]["server_usages"]) == 2
    status, body = await cloud.call("GET", f"/os-simple-tenant-usage?{PERIOD}")
    assert all("server_usages" not in t for t in body["tenant_usages"])


async def test_usage_pages_refuses_bad_periods_and_other_projects(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    owner, other = await cloud.member(), await cloud.member()
    first = await running_server(cloud, owner, launched_at=f"{DAY}T10:00:00Z")
    second = await running_server(cloud, owner, launched_at=f"{DAY}T10:30:00Z")
    path = f"/os-simple-tenant-usage/{owner.project_id}?{PERIOD}"
    status, body = await cloud.call("GET", f"{path}&limit=1", owner, version="2.40")
    assert [u["instance_id"] for u in body["tenant_usage"]["server_usages"]] == [first]
    (link,) = body["tenant_usage_links"]
    assert f"marker={first}" in link["href"]
    status, body = await cloud.call("GET", f"{path}&limit=1&marker={first}", owner, version="2.40")
    assert [u["instance_id"] for u in body["tenant_usage"]["server_usages"]] == [second]
    assert "tenant_usage_links" not in body
    status, body = await cloud.call("GET", f"{path}&marker=nope", owner, version="2.40")
    assert status == 400
    for query in (f"start={DAY}T12:00:00&end={DAY}T09:00:00", "start=yesterday"):
        status, body = await cloud.call(
            "GET", f"/os-simple-tenant-usage/{owner.project_id}?{query}", owner
        )
        assert status == 400, query
        assert body["badRequest"]["code"] == 400
    status, body = await cloud.call("GET", path, other)
    assert status == 403
    status, body = await cloud.call("GET", f"/os-simple-tenant-usage?{PERIOD}", owner)
    assert status == 403
    path = f"/os-simple-tenant-usage/{other.project_id}?{PERIOD}"
    status, body = await cloud.call("GET", path, other)
    assert body == {"tenant_usage": {}}


async def test_usage_audit_log_counts_each_hosts_servers(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    await cloud.register_host("h2")
    owner = await cloud.member()
    await running_server(cloud, owner, host="h1", launched_at="2026-10-15T00:00:00Z")
    status, body = await cloud.call("GET", "/os-instance_usage_audit_log/2026-11-20 10:00:00")
    assert status == 200
    audit = body["instance_usage_audit_log"]
    assert audit["period_beginning"] == "2026-10-01 00:00:00"
    assert audit["period_ending"] == "2026-11-01 00:00:00"
    assert audit["total_instances"] == 1
    assert audit["num_hosts"] == audit["num_hosts_done"] == 2
    assert audit["overall_status"] == "ALL hosts done. 0 errors."
    assert {h: entry["instances"] for h, entry in audit["log"].items()} == {"h1": 1, "h2": 0}
    status, body = await cloud.call("GET", "/os-instance_usage_audit_log/2026-01-05 00:00:00.5")
    assert body["instance_usage_audit_log"]["period_beginning"] == "2025-12-01 00:00:00"
    status, body = await cloud.call("GET", "/os-instance_usage_audit_log")
    assert status == 200
    assert "log" in body["instance_usage_audit_logs"]
    status, body = await cloud.call("GET", "/os-instance_usage_audit_log/invalid_time")
    assert status == 400
    assert body["badRequest"]["message"] == "Invalid timestamp for date invalid_time"
    status, body = await cloud.call("GET", "/os-instance_usage_audit_log", owner)
    assert status == 403
