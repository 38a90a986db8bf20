"""Flavors, keypairs, quotas, limits, hosts and server actions through the HTTP API."""

from __future__ import annotations

import pytest
from tests.compute.conftest import IMAGE_ID, ComputeCloud

from cairn.api.compute import console
from cairn.events import compute as ev

PUBLIC_KEY = (
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIEZDsnM6JU3fcuMoRqJ3bdfYqYhkHvVDYzKL7Zu0bE0L test@cairn"
)


async def test_flavor_lifecycle_and_access(cloud: ComputeCloud) -> None:
    member, other = await cloud.member(), await cloud.member()
    body = {"flavor": {"name": "private.small", "ram": 96, "vcpus": 1, "disk": 1,
                       "os-flavor-access:is_public": False, "id": "p1"}}  # fmt: skip
    status, answer = await cloud.call("POST", "/flavors", member, body)
    assert status == 403
    status, answer = await cloud.call("POST", "/flavors", json=body)
    assert status == 200, answer
    status, _ = await cloud.call("POST", "/flavors", json=body)
    assert status == 409
    status, _ = await cloud.call("GET", "/flavors/p1", member)
    assert status == 404
    status, answer = await cloud.call(
        "POST", "/flavors/p1/action", json={"addTenantAccess": {"tenant": member.project_id}}
    )
    assert answer["flavor_access"] == [{"flavor_id": "p1", "tenant_id": member.project_id}]
    status, _ = await cloud.call("GET", "/flavors/p1", member)
    assert status == 200
    status, _ = await cloud.call("GET", "/flavors/p1", other)
    assert status == 404
    status, answer = await cloud.call(
        "POST", "/flavors/p1/os-extra_specs", json={"extra_specs": {"hw:cpu_policy": "shared"}}
    )
    assert answer == {"extra_specs": {"hw:cpu_policy": "shared"}}
    status, answer = await cloud.call("GET", "/flavors/p1", member, version="2.61")
    assert answer["flavor"]["extra_specs"] == {"hw:cpu_policy": "shared"}
    status, _ = await cloud.call("DELETE", "/flavors/p1/os-extra_specs/hw:cpu_policy")
    assert status == 200
    status, answer = await cloud.call(
        "PUT", "/flavors/p1", json={"flavor": {"description": "small"}}, version="2.55"
    )
    assert answer["flavor"]["description"] == "small"
    for bad in ({"name": "x", "ram": "lots", "vcpus": 1, "disk": 1},
                {"name": "x", "ram": 64, "vcpus": 0, "disk": 1},
                {"ram": 64, "vcpus": 1, "disk": 1}):  # fmt: skip
        status, answer = await cloud.call("POST", "/flavors", json={"flavor": bad})
        assert status == 400, bad
    status, _ = await cloud.call("DELETE", "/flavors/p1", member)
    assert status == 403
    status, _ = await cloud.call("DELETE", "/flavors/p1")
    assert status == 202
    status, _ = await cloud.call("GET", "/flavors/p1")
    assert status == 404


async def test_keypairs_import_generate_and_isolation(cloud: ComputeCloud) -> None:
    alice, bob = await cloud.member(), await cloud.member()
    status, answer = await cloud.call(
        "POST", "/os-keypairs", alice, {"keypair": {"name": "k", "public_key": PUBLIC_KEY}},
        version="2.2",
    )  # fmt: skip
    assert status == 201, answer
    assert answer["keypair"]["fingerprint"].count(":") == 15
    assert "private_key" not in answer["keypair"]
    status, _ = await cloud.call(
        "POST", "/os-keypairs", alice, {"keypair": {"name": "k", "public_key": PUBLIC_KEY}}
    )
    assert status == 409
    status, answer = await cloud.call("POST", "/os-keypairs", alice, {"keypair": {"name": "gen"}})
    assert status == 200
    assert answer["keypair"]["private_key"].startswith("-----BEGIN")
    status, answer = await cloud.call(
        "POST", "/os-keypairs", alice, {"keypair": {"name": "bad", "public_key": "ssh-rsa nope"}}
    )
    assert status == 400
    for unknown in ("ssh-foo AAAAB3NzaC1yc2E=", "ssh-foo " + PUBLIC_KEY.split()[1]):
        status, answer = await cloud.call(
            "POST", "/os-keypairs", alice, {"keypair": {"name": "bad", "public_key": unknown}}
        )
        assert status == 400, answer
    status, answer = await cloud.call(
        "POST", "/os-keypairs", alice, {"keypair": {"name": "g2"}}, version="2.92"
    )
    assert status == 400
    _, answer = await cloud.call("GET", "/os-keypairs", alice)
    assert sorted(k["keypair"]["name"] for k in answer["keypairs"]) == ["gen", "k"]
    _, answer = await cloud.call("GET", "/os-keypairs", bob)
    assert answer["keypairs"] == []
    status, _ = await cloud.call("GET", "/os-keypairs/k", bob)
    assert status == 404
    # A boot with the key embeds its public half for the agent.
    await cloud.register_host("h1")
    status, answer = await cloud.boot(alice, key_name="k")
    assert status == 202
    server = cloud.compute.state.servers[answer["server"]["id"]]
    assert server.key_name == "k"
    status, _ = await cloud.call("DELETE", "/os-keypairs/k", alice, version="2.2")
    assert status == 204


async def test_quota_sets_and_limits(cloud: ComputeCloud) -> None:
    member = await cloud.member()
    project = member.project_id
    status, answer = await cloud.call("GET", f"/os-quota-sets/{project}", member)
    assert answer["quota_set"]["instances"] == 10
    assert "injected_files" in answer["quota_set"]
    _, answer = await cloud.call("GET", f"/os-quota-sets/{project}", member, version="2.57")
    assert "injected_files" not in answer["quota_set"]
    status, _ = await cloud.call(
        "PUT", f"/os-quota-sets/{project}", member, {"quota_set": {"instances": 50}}
    )
    assert status == 403
    status, answer = await cloud.call(
        "PUT", f"/os-quota-sets/{project}", json={"quota_set": {"instances": 1, "cores": 4}}
    )
    assert answer["quota_set"]["instances"] == 1
    status, _ = await cloud.call(
        "PUT", f"/os-quota-sets/{project}", json={"quota_set": {"instances": "many"}}
    )
    assert status == 400
    await cloud.register_host("h1")
    status, _ = await cloud.boot(member)
    assert status == 202
    status, answer = await cloud.boot(member)
    assert status == 403
    assert "Quota exceeded for instances" in answer["forbidden"]["message"]
    _, answer = await cloud.call("GET", "/limits", member)
    absolute = answer["limits"]["absolute"]
    assert (absolute["maxTotalInstances"], absolute["totalInstancesUsed"]) == (1, 1)
    assert absolute["totalRAMUsed"] == 128
    assert absolute["maxImageMeta"] == absolute["maxServerMeta"] == 128
    _, answer = await cloud.call("GET", "/limits", member, version="2.39")
    assert "maxImageMeta" not in answer["limits"]["absolute"]
    status, _ = await cloud.call("DELETE", f"/os-quota-sets/{project}")
    assert status == 202
    _, answer = await cloud.call("GET", f"/os-quota-sets/{project}", member)
    assert answer["quota_set"]["instances"] == 10
    # min_count/max_count: as many as the quota admits, at least min_count.
    await cloud.call("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"instances": 3}})
    status, answer = await cloud.boot(member, min_count=1, max_count=5)
    assert status == 202
    assert cloud.compute.state.usage[project].instances == 3
    status, answer = await cloud.boot(member, min_count=1)
    assert status == 403


async def test_hypervisors_services_and_zones(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1", zone="az1")
    await cloud.register_host("h2")
    member = await cloud.member()
    status, _ = await cloud.call("GET", "/os-hypervisors", member)
    assert status == 403
    _, answer = await cloud.call("GET", "/os-hypervisors/detail", version="2.1")
    assert {h["id"] for h in answer["hypervisors"]} == {1, 2}
    assert answer["hypervisors"][0]["memory_mb"] == 8192
    _, answer = await cloud.call("GET", "/os-hypervisors/statistics")
    assert answer["hypervisor_statistics"]["count"] == 2
    status, _ = await cloud.call("GET", "/os-hypervisors/statistics", version="2.88")
    assert status == 404
    _, answer = await cloud.call("GET", "/os-services", version="2.53")
    ids = {s["host"]: s["id"] for s in answer["services"]}
    status, answer = await cloud.call(
        "PUT", f"/os-services/{ids['h1']}", json={"status": "disabled", "disabled_reason": "x"},
        version="2.53",
    )  # fmt: skip
    assert answer["service"]["status"] == "disabled"
    assert not cloud.compute.state.hosts["h1"].enabled
    status, answer = await cloud.call(
        "PUT", "/os-services/enable", json={"host": "h1", "binary": "nova-compute"}
    )
    assert answer["service"]["status"] == "enabled"
    _, answer = await cloud.call("GET", "/os-availability-zone", member)
    assert [z["zoneName"] for z in answer["availabilityZoneInfo"]] == ["az1", "nova"]
    status, answer = await cloud.boot(member, availability_zone="az1")
    await cloud.wait_for(lambda: not cloud.compute.state.pending)
    assert cloud.compute.state.servers[answer["server"]["id"]].host == "h1"
    status, answer = await cloud.boot(member, availability_zone="nowhere")
    assert status == 400
    status, answer = await cloud.boot(member, availability_zone="nova:h1")
    assert status == 403  # forcing a host is for admins


async def test_actions_locks_and_console(
    cloud: ComputeCloud, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(console, "ANSWER_TIMEOUT", 0.3)
    await cloud.register_host("h1")
    owner = await cloud.member()
    _, answer = await cloud.boot(owner)
    server_id = answer["server"]["id"]
    status, answer = await cloud.call("POST", f"/servers/{server_id}/action", owner,
                                      {"os-start": None})  # fmt: skip
    assert status == 409  # still building
    await cloud.wait_for(lambda: server_id not in cloud.compute.state.pending)
    await cloud.append(f"server-{server_id}", ev.ServerSpawned(
        server_id=server_id, host="h1", launched_at="t", instance_name="i",
        console_log="/nonexistent/console.log"))  # fmt: skip
    status, answer = await cloud.call(
        "POST", f"/servers/{server_id}/action", owner, {"os-getConsoleOutput": {"length": 3}}
    )
    # The output comes from h1's agent (tests/compute/test_console.py), and h1 has none here.
    assert status == 503, answer
    status, answer = await cloud.call(
        "POST", f"/servers/{server_id}/action", owner, {"os-getConsoleOutput": {"length": "x"}}
    )
    assert status == 400
    status, _ = await cloud.call("POST", f"/servers/{server_id}/action", owner,
                                 {"lock": {"locked_reason": "mine"}}, version="2.73")  # fmt: skip
    assert status == 202
    _, answer = await cloud.call("GET", f"/servers/{server_id}", owner, version="2.73")
    assert (answer["server"]["locked"], answer["server"]["locked_reason"]) == (True, "mine")
    status, answer = await cloud.call("POST", f"/servers/{server_id}/action", owner,
                                      {"os-stop": None})  # fmt: skip
    assert status == 409
    assert "locked" in answer["conflictingRequest"]["message"]
    status, _ = await cloud.call("DELETE", f"/servers/{server_id}", owner)
    assert status == 409
    status, _ = await cloud.call("POST", f"/servers/{server_id}/action", owner, {"unlock": None})
    assert status == 202
    status, _ = await cloud.call("POST", f"/servers/{server_id}/action", owner, {"os-stop": None})
    assert status == 202
    _, answer = await cloud.call("GET", f"/servers/{server_id}", owner)
    assert answer["server"]["OS-EXT-STS:task_state"] == "powering-off"
    status, _ = await cloud.call("POST", f"/servers/{server_id}/action", owner, {"os-stop": None})
    assert status == 409  # an action is in flight
    status, _ = await cloud.call("POST", f"/servers/{server_id}/action", owner,
                                 {"reboot": {"type": "SIDEWAYS"}})  # fmt: skip
    assert status == 400
    status, _ = await cloud.call("POST", f"/servers/{server_id}/action", owner, {"fly": None})
    assert status == 400
    _, answer = await cloud.call("GET", f"/servers/{server_id}/os-instance-actions", owner)
    assert [a["action"] for a in answer["instanceActions"]] == ["stop", "unlock", "lock", "create"]
    assert all(a["request_id"].startswith("req-") for a in answer["instanceActions"])
    assert answer["instanceActions"][0]["user_id"] == owner.user_id


async def test_flavor_shape_follows_the_microversion(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    _, answer = await cloud.boot()
    server_id = answer["server"]["id"]
    _, old = await cloud.call("GET", f"/servers/{server_id}", version="2.46")
    assert old["server"]["flavor"]["id"] == "42"
    assert "locked" in old["server"]
    assert "description" in old["server"]
    _, v21 = await cloud.call("GET", f"/servers/{server_id}")
    assert "locked" not in v21["server"]
    assert "OS-EXT-SRV-ATTR:reservation_id" not in v21["server"]
    _, new = await cloud.call("GET", f"/servers/{server_id}", version="2.47")
    assert new["server"]["flavor"]["original_name"] == "m1.nano"


async def test_metadata_and_group_member_quotas(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    member = await cloud.member()
    project = member.project_id
    await cloud.call(
        "PUT", f"/os-quota-sets/{project}",
        json={"quota_set": {"metadata_items": 2, "server_group_members": 1}},
    )  # fmt: skip
    status, answer = await cloud.boot(member, metadata={"a": "1", "b": "2", "c": "3"})
    assert status == 403
    assert "metadata_items" in answer["forbidden"]["message"]
    _, group = await cloud.call(
        "POST", "/os-server-groups", member,
        {"server_group": {"name": "g", "policy": "anti-affinity"}}, version="2.64",
    )  # fmt: skip
    hints = {"group": group["server_group"]["id"]}
    status, _ = await cloud.call("POST", "/servers", member, {
        "server": {"name": "a", "imageRef": IMAGE_ID, "flavorRef": "42", "networks": "none"},
        "os:scheduler_hints": hints}, version="2.64")  # fmt: skip
    assert status == 202
    status, answer = await cloud.call("POST", "/servers", member, {
        "server": {"name": "b", "imageRef": IMAGE_ID, "flavorRef": "42", "networks": "none"},
        "os:scheduler_hints": hints}, version="2.64")  # fmt: skip
    assert status == 403


async def test_a_huge_max_count_is_cut_to_the_quota_before_ids_are_made(
    cloud: ComputeCloud,
) -> None:
    await cloud.register_host("h1")
    member = await cloud.member()
    project = member.project_id
    await cloud.call("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"instances": 2}})
    status, _ = await cloud.boot(member, min_count=1, max_count=10**9)
    assert status == 202
    assert cloud.compute.state.usage[project].instances == 2
    status, answer = await cloud.boot(member, min_count=10**9, max_count=10**9)
    assert status == 403
    assert "Quota exceeded for instances" in answer["forbidden"]["message"]
    # unlimited: a fixed bound on the count still applies
    await cloud.call("PUT", f"/os-quota-sets/{project}", json={"quota_set": {"instances": -1}})
    status, answer = await cloud.boot(member, min_count=10**9, max_count=10**9)
    assert status == 400, answer


async def test_group_members_quota_counts_every_admitted_server(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    member = await cloud.member()
    project = member.project_id
    await cloud.call(
        "PUT", f"/os-quota-sets/{project}", json={"quota_set": {"server_group_members": 2}}
    )
    _, group = await cloud.call(
        "POST", "/os-server-groups", member,
        {"server_group": {"name": "g", "policy": "soft-affinity"}}, version="2.64",
    )  # fmt: skip
    hints = {"group": group["server_group"]["id"]}
    status, answer = await cloud.call("POST", "/servers", member, {
        "server": {"name": "a", "imageRef": IMAGE_ID, "flavorRef": "42", "networks": "none",
                   "min_count": 1, "max_count": 3},
        "os:scheduler_hints": hints}, version="2.64")  # fmt: skip
    assert status == 403, answer
    assert "too many servers in group" in answer["forbidden"]["message"]
    assert cloud.compute.state.usage.get(project) is None or (
        cloud.compute.state.usage[project].instances == 0
    )
