"""Networks, subnets and ports through the Neutron API: shapes, rules, IPAM, faults."""

from __future__ import annotations

import pytest

from tests.network.conftest import NetworkCloud


def fault_type(body: object) -> str:
    assert isinstance(body, dict), body
    assert "NeutronError" in body, body
    error = body["NeutronError"]
    assert set(error) == {"type", "message", "detail"}, error
    return str(error["type"])


async def test_discovery_and_extensions(cloud: NetworkCloud) -> None:
    response = await cloud.client.get("/networking")
    versions = await response.json()
    assert versions["versions"][0]["id"] == "v2.0"
    body = await cloud.ok("GET", "/extensions")
    aliases = {e["alias"] for e in body["extensions"]}
    assert {"router", "security-group", "quotas", "external-net", "binding"} <= aliases
    status, body = await cloud.call("GET", "/extensions/dvr")
    assert status == 404
    assert fault_type(body) == "HTTPNotFound"


async def test_the_first_start_makes_the_external_network(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    body = await cloud.ok("GET", "/networks?router:external=true", demo)
    [public] = body["networks"]
    assert public["name"] == "public"
    assert public["is_default"]
    assert "provider:network_type" not in public  # admins only
    body = await cloud.ok("GET", f"/networks/{public['id']}")
    assert body["network"]["provider:network_type"] == "flat"
    # its subnet is the admins' (a member sees the network, not its subnets)
    assert (await cloud.ok("GET", f"/subnets?network_id={public['id']}", demo))["subnets"] == []
    [subnet] = (await cloud.ok("GET", f"/subnets?network_id={public['id']}"))["subnets"]
    assert subnet["cidr"] == "172.24.4.0/24"
    assert subnet["gateway_ip"] == "172.24.4.1"


async def test_network_crud_with_revision_and_tags(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    network = await cloud.network(demo, name="web", description="front")
    assert network["revision_number"] == 0
    assert network["status"] == "ACTIVE"
    assert network["mtu"] == 1450
    assert network["subnets"] == []
    nid = network["id"]
    status, body = await cloud.call(
        "PUT",
        f"/networks/{nid}",
        demo,
        {"network": {"name": "web2"}},
        headers={"If-Match": "revision_number=7"},
    )
    assert status == 412
    assert fault_type(body) == "RevisionNumberConstraintFailed"
    status, body = await cloud.call(
        "PUT",
        f"/networks/{nid}",
        demo,
        {"network": {"name": "web2"}},
        headers={"If-Match": "revision_number=0"},
    )
    assert status == 200
    assert body["network"]["name"] == "web2"
    assert body["network"]["revision_number"] == 1
    status, _ = await cloud.call("PUT", f"/networks/{nid}/tags/blue", demo)
    assert status == 201
    body = await cloud.ok("PUT", f"/networks/{nid}/tags", demo, {"tags": ["a", "b"]})
    assert body == {"tags": ["a", "b"]}
    tagged = await cloud.ok("GET", "/networks?tags=a", demo)
    assert [n["id"] for n in tagged["networks"]] == [nid]
    assert (await cloud.ok("GET", "/networks?not-tags=a&name=web2", demo))["networks"] == []
    status, body = await cloud.call("GET", f"/networks/{nid}/tags/zzz", demo)
    assert status == 404
    assert fault_type(body) == "TagNotFound"
    status, _ = await cloud.call("DELETE", f"/networks/{nid}", demo)
    assert status == 204
    status, body = await cloud.call("GET", f"/networks/{nid}", demo)
    assert status == 404
    assert fault_type(body) == "NetworkNotFound"


async def test_listing_filters_fields_sorting_and_pages(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    made = [await cloud.network(demo, name=f"n{i}") for i in range(5)]
    body = await cloud.ok("GET", "/networks?name=n1&name=n3&fields=id&fields=name", demo)
    assert sorted(n["name"] for n in body["networks"]) == ["n1", "n3"]
    assert all(set(n) == {"id", "name"} for n in body["networks"])
    body = await cloud.ok("GET", "/networks?sort_key=name&sort_dir=desc&router:external=0", demo)
    names = [n["name"] for n in body["networks"]]
    assert names == sorted(names, reverse=True)
    assert names[0] == "n4"
    seen: list[str] = []
    path = "/networks?limit=2&sort_key=name&sort_dir=asc&router:external=false"
    while True:
        body = await cloud.ok("GET", path, demo)
        seen += [n["name"] for n in body["networks"]]
        nxt = [link for link in body.get("networks_links", []) if link["rel"] == "next"]
        if not nxt:
            break
        path = nxt[0]["href"].split("/networking/v2.0", 1)[1]
    assert seen == sorted(n["name"] for n in made)
    for bad in (
        "/networks?nosuch=1",
        "/networks?limit=-1",
        "/networks?limit=x",
        "/networks?sort_key=bogus",
        "/networks?sort_key=name&sort_dir=up",
        "/networks?marker=not-there",
    ):
        status, body = await cloud.call("GET", bad, demo)
        assert status == 400, (bad, body)
        fault_type(body)


async def test_subnet_rules(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    network = await cloud.network(demo)
    subnet = await cloud.subnet(network["id"], "10.1.0.0/24", demo, dns_nameservers=["10.1.0.53"])
    assert subnet["allocation_pools"] == [{"start": "10.1.0.2", "end": "10.1.0.254"}]
    ports = (await cloud.ok("GET", f"/ports?network_id={network['id']}", demo))["ports"]
    [dhcp] = ports
    assert dhcp["device_owner"] == "network:dhcp"
    assert dhcp["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.1.0.2"}]
    cases = [
        ({"cidr": "10.1.0.128/25"}, 400, "InvalidInput"),  # overlaps
        ({"cidr": "10.2.0.1/24"}, 400, "InvalidInput"),  # host bits
        ({"cidr": "banana"}, 400, "HTTPBadRequest"),
        ({"cidr": "10.3.0.0/24", "ip_version": 6}, 400, "InvalidInput"),
        (
            {
                "cidr": "10.4.0.0/24",
                "gateway_ip": "10.4.0.5",
                "allocation_pools": [{"start": "10.4.0.2", "end": "10.4.0.9"}],
            },
            409,
            "GatewayConflictWithAllocationPools",
        ),
        (
            {"cidr": "10.5.0.0/24", "allocation_pools": [{"start": "10.6.0.2", "end": "10.6.0.9"}]},
            400,
            "OutOfBoundsAllocationPool",
        ),
        ({"cidr": "10.7.0.0/24", "dns_nameservers": ["1.1.1.1"] * 2}, 400, "InvalidInput"),
        ({"cidr": "10.8.0.0/24", "bogus": 1}, 400, "HTTPBadRequest"),
    ]
    head = await cloud.store.head()
    for attrs, status_wanted, type_wanted in cases:
        status, body = await cloud.call(
            "POST",
            "/subnets",
            demo,
            {"subnet": {"network_id": network["id"], "ip_version": 4, **attrs}},
        )
        assert (status, fault_type(body)) == (status_wanted, type_wanted), (attrs, body)
    assert await cloud.store.head() == head  # refused requests stored nothing
    port = await cloud.port(network["id"], demo)
    status, body = await cloud.call("DELETE", f"/subnets/{subnet['id']}", demo)
    assert status == 409
    assert fault_type(body) == "SubnetInUse"
    await cloud.ok("DELETE", f"/ports/{port['id']}", demo)
    await cloud.ok("DELETE", f"/subnets/{subnet['id']}", demo)
    assert (await cloud.ok("GET", f"/ports?network_id={network['id']}", demo))["ports"] == []


async def test_ipv6_subnets(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    network = await cloud.network(demo)
    slaac = await cloud.subnet(
        network["id"],
        "2001:db8::/64",
        demo,
        ip_version=6,
        ipv6_ra_mode="slaac",
        ipv6_address_mode="slaac",
    )
    stateful = await cloud.subnet(
        network["id"], "2001:db8:1::/64", demo, ip_version=6, ipv6_address_mode="dhcpv6-stateful"
    )
    port = await cloud.port(network["id"], demo, mac_address="fa:16:3e:00:00:01")
    addresses = {f["subnet_id"]: f["ip_address"] for f in port["fixed_ips"]}
    assert addresses[slaac["id"]] == "2001:db8::f816:3eff:fe00:1"
    assert addresses[stateful["id"]].startswith("2001:db8:1::")
    status, body = await cloud.call(
        "POST",
        "/subnets",
        demo,
        {
            "subnet": {
                "network_id": network["id"],
                "cidr": "2001:db8:2::/80",
                "ip_version": 6,
                "ipv6_address_mode": "slaac",
            }
        },
    )
    assert status == 400, body
    # A SLAAC subnet goes even with ports on it: their addresses go with it.
    await cloud.ok("DELETE", f"/subnets/{slaac['id']}", demo)
    left = (await cloud.ok("GET", f"/ports/{port['id']}", demo))["port"]["fixed_ips"]
    assert [f["subnet_id"] for f in left] == [stateful["id"]]
    status, body = await cloud.call("DELETE", f"/subnets/{stateful['id']}", demo)
    assert status == 409, body


async def test_ports_take_and_give_back_addresses(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    network = await cloud.network(demo)
    subnet = await cloud.subnet(network["id"], "10.9.0.0/29", demo)  # .2-.6: five addresses
    first = await cloud.port(network["id"], demo)  # .2 is the DHCP port's
    assert first["fixed_ips"][0]["ip_address"] == "10.9.0.3"
    assert first["status"] == "DOWN"
    assert first["mac_address"].startswith("fa:16:3e:")
    fixed = await cloud.port(network["id"], demo, fixed_ips=[{"ip_address": "10.9.0.6"}])
    assert fixed["fixed_ips"] == [{"subnet_id": subnet["id"], "ip_address": "10.9.0.6"}]
    status, body = await cloud.call(
        "POST",
        "/ports",
        demo,
        {"port": {"network_id": network["id"], "fixed_ips": [{"ip_address": "10.9.0.6"}]}},
    )
    assert status == 409
    assert fault_type(body) == "IpAddressInUse"
    status, body = await cloud.call(
        "POST",
        "/ports",
        demo,
        {"port": {"network_id": network["id"], "mac_address": first["mac_address"]}},
    )
    assert status == 409
    assert fault_type(body) == "MacAddressInUse"
    await cloud.port(network["id"], demo)
    await cloud.port(network["id"], demo)
    status, body = await cloud.call("POST", "/ports", demo, {"port": {"network_id": network["id"]}})
    assert status == 409
    assert fault_type(body) == "IpAddressGenerationFailure"
    await cloud.ok("DELETE", f"/ports/{first['id']}", demo)
    again = await cloud.port(network["id"], demo)
    assert again["fixed_ips"][0]["ip_address"] == "10.9.0.3"
    keep = [{"subnet_id": subnet["id"], "ip_address": "10.9.0.3"}]
    moved = await cloud.ok(
        "PUT", f"/ports/{again['id']}", demo, {"port": {"fixed_ips": keep, "name": "x"}}
    )
    assert moved["port"]["name"] == "x"


async def test_port_security_and_groups(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    network = await cloud.network(demo)
    await cloud.subnet(network["id"], "10.10.0.0/24", demo)
    port = await cloud.port(network["id"], demo)
    groups = (await cloud.ok("GET", "/security-groups?name=default", demo))["security_groups"]
    assert port["security_groups"] == [groups[0]["id"]]
    status, body = await cloud.call(
        "POST",
        "/ports",
        demo,
        {
            "port": {
                "network_id": network["id"],
                "port_security_enabled": False,
                "security_groups": [groups[0]["id"]],
            }
        },
    )
    assert status == 409
    assert fault_type(body) == "PortSecurityAndIPRequiredForSecurityGroups"
    open_port = await cloud.port(network["id"], demo, port_security_enabled=False)
    assert open_port["security_groups"] == []
    status, body = await cloud.call(
        "PUT",
        f"/ports/{open_port['id']}",
        demo,
        {"port": {"allowed_address_pairs": [{"ip_address": "10.10.0.200"}]}},
    )
    assert status == 409
    assert fault_type(body) == "AddressPairAndPortSecurityRequired"
    paired = await cloud.ok(
        "PUT",
        f"/ports/{port['id']}",
        demo,
        {"port": {"allowed_address_pairs": [{"ip_address": "10.10.0.0/28"}]}},
    )
    assert paired["port"]["allowed_address_pairs"] == [
        {"ip_address": "10.10.0.0/28", "mac_address": port["mac_address"]}
    ]
    status, body = await cloud.call(
        "POST", "/ports", demo, {"port": {"network_id": network["id"], "binding:host_id": "node1"}}
    )
    assert status == 403, body
    admin_port = await cloud.ok(
        "POST",
        "/ports",
        None,
        {
            "port": {
                "network_id": network["id"],
                "binding:host_id": "node1",
                "project_id": demo.project_id,
            }
        },
    )
    assert admin_port["port"]["binding:vif_type"] == "bridge"
    shown = await cloud.ok("GET", f"/ports/{admin_port['port']['id']}", demo)
    assert "binding:host_id" not in shown["port"]


async def test_tenants_are_isolated_and_shared_networks_usable(cloud: NetworkCloud) -> None:
    alice, bob = await cloud.member(), await cloud.member()
    private = await cloud.network(alice)
    await cloud.subnet(private["id"], "10.11.0.0/24", alice)
    status, body = await cloud.call("GET", f"/networks/{private['id']}", bob)
    assert status == 404, body
    assert fault_type(body) == "NetworkNotFound"
    subnets = await cloud.ok("GET", f"/subnets?network_id={private['id']}", bob)
    assert subnets["subnets"] == []
    assert private["id"] not in {
        n["id"] for n in (await cloud.ok("GET", "/networks", bob))["networks"]
    }
    for method, body in (("PUT", {"network": {"name": "x"}}), ("DELETE", None)):
        status, found = await cloud.call(method, f"/networks/{private['id']}", bob, body)
        assert status == 404
        assert fault_type(found) == "NetworkNotFound"
    status, body = await cloud.call("POST", "/ports", bob, {"port": {"network_id": private["id"]}})
    assert status == 404
    assert fault_type(body) == "NetworkNotFound"
    status, body = await cloud.call("POST", "/networks", alice, {"network": {"shared": True}})
    assert status == 403
    assert fault_type(body) == "PolicyNotAuthorized"
    shared = await cloud.network(None, shared=True, project_id=alice.project_id)
    await cloud.subnet(shared["id"], "10.12.0.0/24", None, project_id=alice.project_id)
    bobs = await cloud.port(shared["id"], bob)
    assert bobs["project_id"] == bob.project_id
    status, body = await cloud.call(
        "PUT", f"/networks/{shared['id']}", bob, {"network": {"name": "mine"}}
    )
    assert status == 403
    assert fault_type(body) == "PolicyNotAuthorized"
    status, body = await cloud.call("GET", f"/ports/{bobs['id']}", alice)
    assert status == 404
    reader = await cloud.member(alice.project_id, role="reader")
    assert (await cloud.ok("GET", "/networks", reader))["networks"]
    status, body = await cloud.call("POST", "/networks", reader, {"network": {}})
    assert status == 403, body


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/networks", None),
        ("/networks", []),
        ("/networks", {"network": "x"}),
        ("/networks", {"network": {"admin_state_up": "maybe"}}),
        ("/networks", {"network": {"name": 5}}),
        ("/networks", {"network": {"name": "x" * 300}}),
        ("/networks", {"networks": []}),
        ("/subnets", {"subnet": {"cidr": "10.0.0.0/24"}}),
        ("/subnets", {"subnet": {"network_id": "not-a-uuid", "cidr": "10.0.0.0/24"}}),
        ("/ports", {"port": {"network_id": "0b7f3f43-52a9-4d8c-9a3c-6b0b2f6f1c21"}}),
        ("/ports", {"port": {"network_id": "x", "mac_address": "zz"}}),
        ("/routers", {"router": {"external_gateway_info": {"network_id": 3}}}),
        ("/floatingips", {"floatingip": {}}),
        ("/security-groups", {"security_group": {"name": ["x"]}}),
        ("/security-group-rules", {"security_group_rule": {"direction": "sideways"}}),
        ("/subnetpools", {"subnetpool": {"prefixes": ["nope"]}}),
    ],
)
async def test_malformed_input_is_a_4xx_and_stores_nothing(
    cloud: NetworkCloud, path: str, body: object
) -> None:
    demo = await cloud.member()
    head = await cloud.store.head()
    if body is None:
        response = await cloud.client.post(
            "/networking/v2.0" + path, data=b"{not json", headers={"X-Auth-Token": demo.token}
        )
        status, found = response.status, await response.json()
    else:
        status, found = await cloud.call("POST", path, demo, body)
    assert 400 <= status < 500, (path, body, found)
    fault_type(found)
    assert await cloud.store.head() == head


async def test_no_token_is_a_401_in_neutrons_shape(cloud: NetworkCloud) -> None:
    response = await cloud.client.get("/networking/v2.0/networks")
    assert response.status == 401
    assert fault_type(await response.json()) == "HTTPUnauthorized"
