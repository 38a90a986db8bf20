"""Nova's floating-IP and network proxies (before 2.36) on networking's resources."""

from __future__ import annotations

from typing import Any

from tests.network.conftest import Caller
from tests.network.test_api_l3 import routed
from tests.network.test_compute_ports import Cloud, cloud

__all__ = ["cloud"]


async def _nova(
    cloud: Cloud, method: str, path: str, who: Caller, json: Any = None, version: str = "2.35"
) -> tuple[int, Any]:
    response = await cloud.client.request(
        method,
        "/compute/v2.1" + path,
        json=json,
        headers={"X-Auth-Token": who.token, "OpenStack-API-Version": f"compute {version}"},
    )
    body = await response.json() if response.content_type == "application/json" else None
    return response.status, body


async def test_floating_ips_allocate_associate_release(cloud: Cloud) -> None:
    demo, other = await cloud.member(), await cloud.member()
    topology = await routed(cloud, demo, "10.60.0.0/24")
    status, body = await _nova(cloud, "GET", "/os-floating-ip-pools", demo)
    assert body == {"floating_ip_pools": [{"name": "public"}]}
    status, body = await _nova(cloud, "POST", "/os-floating-ips", demo, {"pool": "public"})
    assert status == 200, body
    fip = body["floating_ip"]
    assert (fip["pool"], fip["fixed_ip"], fip["instance_id"]) == ("public", None, None)
    neutron = await cloud.ok("GET", f"/floatingips/{fip['id']}", demo)
    assert neutron["floatingip"]["floating_ip_address"] == fip["ip"]
    status, body = await _nova(cloud, "GET", "/os-floating-ips", demo)
    assert [f["id"] for f in body["floating_ips"]] == [fip["id"]]
    status, body = await _nova(cloud, "GET", "/os-floating-ips", other)
    assert body == {"floating_ips": []}
    status, _ = await _nova(cloud, "GET", f"/os-floating-ips/{fip['id']}", other)
    assert status == 404

    status, body = await cloud.boot(
        demo, [{"uuid": topology["network"]["id"], "fixed_ip": "10.60.0.9"}]
    )
    server_id = body["server"]["id"]
    add = {"addFloatingIp": {"address": fip["ip"]}}
    status, body = await _nova(cloud, "POST", f"/servers/{server_id}/action", demo, add)
    assert status == 202, body
    status, body = await _nova(cloud, "GET", f"/os-floating-ips/{fip['id']}", demo)
    assert (body["floating_ip"]["fixed_ip"], body["floating_ip"]["instance_id"]) == (
        "10.60.0.9",
        server_id,
    )
    # A second address for the same fixed address is refused (400, as Nova words
    # networking's conflict); the first one moves to another server when asked.
    status, body = await _nova(cloud, "POST", "/os-floating-ips", demo, {"pool": "public"})
    second = body["floating_ip"]
    again = {"addFloatingIp": {"address": second["ip"]}}
    status, body = await _nova(cloud, "POST", f"/servers/{server_id}/action", demo, again)
    assert status == 400
    assert body["badRequest"]["message"].startswith("Unable to associate floating IP")
    status, body = await cloud.boot(demo, [{"uuid": topology["network"]["id"]}])
    other_server = body["server"]["id"]
    status, body = await _nova(cloud, "POST", f"/servers/{other_server}/action", demo, add)
    assert status == 202, body
    status, body = await _nova(cloud, "GET", f"/os-floating-ips/{fip['id']}", demo)
    assert body["floating_ip"]["instance_id"] == other_server
    server_id = other_server
    remove = {"removeFloatingIp": {"address": fip["ip"]}}
    status, body = await _nova(cloud, "POST", f"/servers/{server_id}/action", demo, remove)
    assert status == 202
    status, body = await _nova(cloud, "POST", f"/servers/{server_id}/action", demo, remove)
    assert status == 409
    assert "is not associated" in body["conflictingRequest"]["message"]
    status, _ = await _nova(cloud, "DELETE", f"/os-floating-ips/{fip['id']}", other)
    assert status == 404
    status, _ = await _nova(cloud, "DELETE", f"/os-floating-ips/{fip['id']}", demo)
    assert status == 202
    status, _ = await cloud.call("GET", f"/floatingips/{fip['id']}", demo)
    assert status == 404


async def test_floating_ip_refusals(cloud: Cloud) -> None:
    demo = await cloud.member()
    network = await cloud.network(demo, name="lonely")
    await cloud.subnet(network["id"], "10.61.0.0/24", demo)
    status, body = await _nova(cloud, "POST", "/os-floating-ips", demo, {"pool": "nowhere"})
    assert status == 404
    assert body["itemNotFound"]["message"] == "Floating IP pool not found."
    for bad in ({"pool": 5}, {"colour": "red"}):
        status, _ = await _nova(cloud, "POST", "/os-floating-ips", demo, bad)
        assert status == 400
    status, body = await _nova(cloud, "POST", "/os-floating-ips", demo)  # the default pool
    fip = body["floating_ip"]
    status, body = await cloud.boot(demo, [{"uuid": network["id"]}])
    server_id = body["server"]["id"]
    for args, code in (
        ({"address": "203.0.113.99"}, 404),  # not the project's
        ({"address": "not-an-ip"}, 400),
        ({}, 400),
        ({"address": fip["ip"]}, 400),  # no router from its subnet to the pool
    ):
        status, body = await _nova(
            cloud, "POST", f"/servers/{server_id}/action", demo, {"addFloatingIp": args}
        )
        assert status == code, (args, body)
    status, _ = await _nova(cloud, "GET", "/os-floating-ips", demo, version="2.36")
    assert status == 404
    late = {"addFloatingIp": {"address": fip["ip"]}}
    status, body = await _nova(
        cloud, "POST", f"/servers/{server_id}/action", demo, late, version="2.44"
    )
    assert status == 404


async def test_networks_and_tenant_networks(cloud: Cloud) -> None:
    demo, other = await cloud.member(), await cloud.member()
    network = await cloud.network(demo, name="mine")
    await cloud.subnet(network["id"], "10.62.0.0/24", demo)
    status, body = await _nova(cloud, "GET", "/os-networks", demo)
    labels = {n["label"]: n for n in body["networks"]}
    assert labels["mine"]["cidr"] == "10.62.0.0/24"
    assert "public" in labels  # external networks are everyone's
    status, body = await _nova(cloud, "GET", f"/os-networks/{network['id']}", demo)
    assert body["network"]["label"] == "mine"
    status, body = await _nova(cloud, "GET", "/os-tenant-networks", demo)
    assert {"id": network["id"], "label": "mine", "cidr": "10.62.0.0/24"} in body["networks"]
    status, body = await _nova(cloud, "GET", f"/os-tenant-networks/{network['id']}", other)
    assert status == 404
    status, body = await _nova(cloud, "GET", "/os-networks", other)
    assert "mine" not in {n["label"] for n in body["networks"]}
    status, _ = await _nova(cloud, "GET", "/os-networks", demo, version="2.36")
    assert status == 404


async def test_security_groups_all_tenants_is_for_admins(cloud: Cloud) -> None:
    demo, other = await cloud.member(), await cloud.member()
    body = {"security_group": {"name": "mine", "description": "d"}}
    status, made = await _nova(cloud, "POST", "/os-security-groups", demo, body)
    assert status == 200, made
    admin = await cloud.member(role="admin")
    status, body = await _nova(cloud, "GET", "/os-security-groups?all_tenants=true", admin)
    assert made["security_group"]["id"] in {g["id"] for g in body["security_groups"]}
    status, body = await _nova(cloud, "GET", "/os-security-groups", admin)
    assert made["security_group"]["id"] not in {g["id"] for g in body["security_groups"]}
    status, body = await _nova(cloud, "GET", "/os-security-groups?all_tenants=1", other)
    assert {g["tenant_id"] for g in body["security_groups"]} == {other.project_id}


async def test_deleting_a_group_deletes_the_rules_naming_it_as_remote(cloud: Cloud) -> None:
    demo = await cloud.member()
    made = {}
    for name in ("parent", "peer"):
        body = {"security_group": {"name": name, "description": name}}
        status, answer = await _nova(cloud, "POST", "/os-security-groups", demo, body)
        made[name] = answer["security_group"]["id"]
    ssh = {"ip_protocol": "tcp", "from_port": 22, "to_port": 22, "group_id": made["peer"]}
    rule = {"security_group_rule": {"parent_group_id": made["parent"], **ssh}}
    status, answer = await _nova(cloud, "POST", "/os-security-group-rules", demo, rule)
    assert status == 200, answer
    status, _ = await _nova(cloud, "DELETE", f"/os-security-groups/{made['peer']}", demo)
    assert status == 202
    status, answer = await _nova(cloud, "GET", f"/os-security-groups/{made['parent']}", demo)
    assert answer["security_group"]["rules"] == []
    neutron = await cloud.ok(
        "GET", f"/security-group-rules?security_group_id={made['parent']}", demo
    )
    assert all(r["remote_group_id"] != made["peer"] for r in neutron["security_group_rules"])


async def test_a_rule_names_groups_by_uuid(cloud: Cloud) -> None:
    demo = await cloud.member()
    body = {"security_group": {"name": "g", "description": "g"}}
    status, made = await _nova(cloud, "POST", "/os-security-groups", demo, body)
    group_id = made["security_group"]["id"]
    ssh = {"ip_protocol": "tcp", "from_port": 22, "to_port": 22}
    for rule in (
        {"parent_group_id": "non_int_id", **ssh},
        {"parent_group_id": group_id, "group_id": "not-a-uuid", **ssh},
    ):
        status, answer = await _nova(
            cloud, "POST", "/os-security-group-rules", demo, {"security_group_rule": rule}
        )
        assert status == 400, rule
        assert answer["badRequest"]["message"] == "Security group id should be uuid"
    missing = {"parent_group_id": "00000000-0000-0000-0000-000000000000", **ssh}
    status, _ = await _nova(
        cloud, "POST", "/os-security-group-rules", demo, {"security_group_rule": missing}
    )
    assert status == 404
