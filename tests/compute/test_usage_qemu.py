"""Usage for a project that booted and deleted real QEMU guests through the CLI
equals what the test's own clock says, to the second.

The test notes the time around each step (before a ``server create``, once it
is ACTIVE, before a ``server delete``, once it is gone), so it knows for certain
which servers existed in any window between those marks: asked for such a
window, ``os-simple-tenant-usage`` must charge exactly its length, per server
and flavor. Over the whole day, each server's start and end must fall within
the marks around its create and delete, and its hours must be exactly the span
between them. ``openstack usage show`` (whole days only) agrees with the API.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import requests
from tests.cloud_process import Running, build_guest, cairn_up

pytestmark = pytest.mark.qemu

QEMU = "qemu:///system"
#: flavor -> (vCPUs, MB, GB), as the first start creates them
FLAVORS = {"m1.nano": (1, 128, 1), "m1.micro": (1, 256, 1)}


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("usage-cloud") / "data"
    options = ("--hypervisor", QEMU, "--compute-hosts", "1", "--guest-dir", str(build_guest()))
    with cairn_up(data, *options) as (running, _pid):
        yield running


def _at(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).replace(tzinfo=None).isoformat()


def _seconds(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def _whole_second_after(t: float) -> float:
    return float(int(t) + 1)


def _usage(cloud: Running, project_id: str, start: float, end: float) -> dict[str, Any]:
    token = cloud.openstack("token", "issue", "-c", "id", "-f", "value").stdout.strip()
    answer = requests.get(
        f"{cloud.url}/compute/v2.1/os-simple-tenant-usage/{project_id}",
        params={"start": _at(start), "end": _at(end), "detailed": "1"},
        headers={"X-Auth-Token": token},
        timeout=30,
    )
    assert answer.status_code == 200, answer.text
    usage: dict[str, Any] = answer.json()["tenant_usage"]
    return usage


def _boot(cloud: Running, name: str, flavor: str) -> tuple[str, float, float]:
    before = time.time()
    made = cloud.json(
        "server",
        "create",
        "--image",
        "cairn-guest",
        "--flavor",
        flavor,
        "--nic",
        "none",
        "--wait",
        name,
        cloud="cairn-demo",
    )
    after = time.time()
    assert isinstance(made, dict)
    assert made["status"] == "ACTIVE"
    return str(made["id"]), before, after


def test_usage_equals_the_seconds_the_servers_existed(cloud: Running) -> None:
    project = cloud.json("project", "show", "demo")
    assert isinstance(project, dict)
    project_id = str(project["id"])

    nano, nano_asked, nano_up = _boot(cloud, "usage-nano", "m1.nano")
    micro, micro_asked, micro_up = _boot(cloud, "usage-micro", "m1.micro")
    time.sleep(4)
    delete_asked = time.time()
    cloud.openstack("server", "delete", "--wait", nano, cloud="cairn-demo")
    nano_gone = time.time()
    time.sleep(3)

    # A window in which both certainly ran: its length, for each.
    start, end = _whole_second_after(micro_up), float(int(delete_asked))
    assert end - start >= 2
    both = _usage(cloud, project_id, start, end)
    by_id = {u["instance_id"]: u for u in both["server_usages"]}
    assert set(by_id) == {nano, micro}
    length_h = (end - start) / 3600
    for server, flavor in ((nano, "m1.nano"), (micro, "m1.micro")):
        vcpus, memory_mb, disk_gb = FLAVORS[flavor]
        assert by_id[server]["flavor"] == flavor
        assert (by_id[server]["vcpus"], by_id[server]["memory_mb"]) == (vcpus, memory_mb)
        assert by_id[server]["local_gb"] == disk_gb
        assert by_id[server]["hours"] == pytest.approx(length_h, abs=1e-9)
    assert both["total_hours"] == pytest.approx(2 * length_h, abs=1e-9)
    assert both["total_vcpus_usage"] == pytest.approx(2 * length_h, abs=1e-9)
    assert both["total_memory_mb_usage"] == pytest.approx((128 + 256) * length_h, abs=1e-6)
    assert both["total_local_gb_usage"] == pytest.approx(2 * length_h, abs=1e-9)

    # A window after the delete: only the server that still runs.
    start = _whole_second_after(nano_gone)
    end = float(int(time.time()))
    after = _usage(cloud, project_id, start, end)
    assert [u["instance_id"] for u in after["server_usages"]] == [micro]
    assert after["total_memory_mb_usage"] == pytest.approx(256 * (end - start) / 3600, abs=1e-6)

    # The whole day: each server's span sits inside the test's marks around it.
    day_start = float(int(nano_asked) - 3600)
    now = float(int(time.time()))
    day = _usage(cloud, project_id, day_start, now)
    spans = {u["instance_id"]: u for u in day["server_usages"]}
    gone = spans[nano]
    assert gone["state"] == "terminated"
    started, ended = _seconds(gone["started_at"]), _seconds(gone["ended_at"])
    assert nano_asked - 1 <= started <= nano_up + 1
    assert delete_asked - 1 <= ended <= nano_gone + 1
    assert gone["hours"] * 3600 == pytest.approx(ended - started, abs=1e-3)
    assert gone["uptime"] == int(ended - started)
    running = spans[micro]
    assert running["ended_at"] is None
    micro_started = _seconds(running["started_at"])
    assert micro_asked - 1 <= micro_started <= micro_up + 1
    assert running["hours"] * 3600 == pytest.approx(now - micro_started, abs=1e-3)
    assert day["total_hours"] == pytest.approx(gone["hours"] + running["hours"], abs=1e-9)

    # The CLI's view (whole days, asked a moment later: the running server's
    # memory-hours have grown by at most the time that took) agrees with the API.
    today = datetime.now(UTC).date()
    shown = cloud.json(
        "usage", "show", "--project", project_id, "--start", today.isoformat(), cloud="cairn-admin"
    )
    asked_until = time.time()
    assert isinstance(shown, dict)
    # -f json shows the server usages themselves under "Servers"
    assert {u["instance_id"] for u in shown["Servers"]} == {nano, micro}
    at_now = gone["memory_mb"] * gone["hours"] + running["memory_mb"] * running["hours"]
    grown = running["memory_mb"] * (asked_until + 1 - now) / 3600
    assert at_now - 0.01 <= float(shown["RAM MB-Hours"]) <= at_now + grown + 0.01
    cloud.openstack("server", "delete", "--wait", micro, cloud="cairn-demo")
