"""The real ``openstack`` CLI against ``cairn up`` on libvirt's test driver with two
in-process compute hosts, using only the ``clouds.yaml`` it writes.

:func:`tests.cloud_process.cairn_up` starts ``cairn up``; the session test with
real QEMU guests and the image service is tests/compute/test_cli_qemu.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from tests.cloud_process import Running, cairn_up


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("compute-cloud") / "data"
    with cairn_up(data, "--hypervisor", "test:///default", "--compute-hosts", "2") as (running, _):
        yield running


def rows(found: Any) -> list[dict[str, Any]]:
    assert isinstance(found, list)
    return found


def test_flavors(cloud: Running) -> None:
    names = {f["Name"] for f in rows(cloud.json("flavor", "list"))}
    assert {"m1.tiny", "m1.nano", "m1.micro"} <= names
    cloud.openstack("flavor", "create", "--ram", "96", "--vcpus", "1", "--disk", "1",
                    "--private", "--property", "hw:cpu_policy=shared", "f-private")  # fmt: skip
    shown = cloud.json("flavor", "show", "f-private")
    assert isinstance(shown, dict)
    assert shown["os-flavor-access:is_public"] is False
    assert shown["properties"] == {"hw:cpu_policy": "shared"}
    cloud.openstack("flavor", "set", "--project", "demo", "f-private")
    assert "f-private" in {
        f["Name"] for f in rows(cloud.json("flavor", "list", cloud="cairn-demo"))
    }
    cloud.openstack("flavor", "delete", "f-private")
    failed = cloud.openstack("flavor", "show", "f-private", check=False)
    assert failed.returncode != 0


def test_hosts_services_and_zones(cloud: Running) -> None:
    hypervisors = rows(cloud.json("hypervisor", "list"))
    assert len(hypervisors) == 2
    assert {h["State"] for h in hypervisors} == {"up"}
    host = hypervisors[0]["Hypervisor Hostname"]
    cloud.openstack("compute", "service", "set", "--disable", "--disable-reason", "maint",
                    host, "nova-compute")  # fmt: skip
    services = {s["Host"]: s for s in rows(cloud.json("compute", "service", "list"))}
    assert services[host]["Status"] == "disabled"
    cloud.openstack("compute", "service", "set", "--enable", host, "nova-compute")
    zones = rows(cloud.json("availability", "zone", "list", "--compute"))
    assert zones == [{"Zone Name": "nova", "Zone Status": "available"}]
    shown = cloud.json("hypervisor", "show", host)
    assert isinstance(shown, dict)
    assert shown["hypervisor_type"] == "TEST"


def test_keypairs_quotas_and_groups(cloud: Running) -> None:
    cloud.openstack("keypair", "create", "k1")
    keys = rows(cloud.json("keypair", "list"))
    assert [k["Name"] for k in keys] == ["k1"]
    cloud.openstack("keypair", "delete", "k1")
    cloud.openstack("quota", "set", "--instances", "7", "--cores", "9", "demo")
    shown = cloud.json("quota", "show", "--compute", "demo")
    limits = {row["Resource"]: row["Limit"] for row in shown} if isinstance(shown, list) else shown
    assert isinstance(limits, dict)
    assert (limits["instances"], limits["cores"]) == (7, 9)
    group = cloud.json("server", "group", "create", "--policy", "anti-affinity", "g1")
    assert isinstance(group, dict)
    assert group["policy"] == "anti-affinity"
    cloud.openstack("server", "group", "delete", "g1")


def test_a_project_sees_only_its_own(cloud: Running) -> None:
    failed = cloud.openstack("hypervisor", "list", cloud="cairn-demo", check=False)
    assert failed.returncode != 0
    assert "403" in failed.stderr or "Policy" in failed.stderr
