"""Routers, floating IPs, port forwardings, security groups, subnet pools, quotas and
the auto-allocated topology through the Neutron API."""

from __future__ import annotations

from typing import Any

from tests.network.conftest import Caller, NetworkCloud
from tests.network.test_api_core import fault_type


async def public_id(cloud: NetworkCloud, who: Caller) -> str:
    body = await cloud.ok("GET", "/networks?router:external=true", who)
    return str(body["networks"][0]["id"])


async def routed(cloud: NetworkCloud, who: Caller, cidr: str) -> dict[str, Any]:
    """A network with a subnet, and a router from it to the external network."""
    network = await cloud.network(who)
    subnet = await cloud.subnet(network["id"], cidr, who)
    router = (
        await cloud.ok(
            "POST",
            "/routers",
            who,
            {
                "router": {
                    "name": "r",
                    "external_gateway_info": {"network_id": await public_id(cloud, who)},
                }
            },
        )
    )["router"]
    await cloud.ok(
        "PUT", f"/routers/{router['id']}/add_router_interface", who, {"subnet_id": subnet["id"]}
    )
    return {"network": network, "subnet": subnet, "router": router}


async def test_router_gateway_and_interfaces(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    made = await routed(cloud, demo, "10.20.0.0/24")
    router, subnet = made["router"], made["subnet"]
    info = router["external_gateway_info"]
    assert info["enable_snat"] is True
    assert info["external_fixed_ips"][0]["ip_address"].startswith("172.24.4.")
    ports = (await cloud.ok("GET", f"/ports?device_id={router['id']}", demo))["ports"]
    [interface] = ports  # the gateway port belongs to no project: the owner sees only this
    assert interface["device_owner"] == "network:router_interface"
    assert interface["fixed_ips"][0]["ip_address"] == "10.20.0.1"
    status, body = await cloud.call(
        "PUT", f"/routers/{router['id']}/add_router_interface", demo, {"subnet_id": subnet["id"]}
    )
    assert status == 400, body
    status, body = await cloud.call("DELETE", f"/ports/{interface['id']}", demo)
    assert status == 409
    assert fault_type(body) == "ServicePortInUse"
    status, body = await cloud.call("DELETE", f"/routers/{router['id']}", demo)
    assert status == 409
    assert fault_type(body) == "RouterInUse"
    routes = [{"destination": "192.0.2.0/24", "nexthop": "10.20.0.50"}]
    body = await cloud.ok("PUT", f"/routers/{router['id']}", demo, {"router": {"routes": routes}})
    assert body["router"]["routes"] == routes
    status, body = await cloud.call(
        "PUT",
        f"/routers/{router['id']}",
        demo,
        {"router": {"routes": [{"destination": "192.0.2.0/24", "nexthop": "198.51.100.1"}]}},
    )
    assert status == 400
    assert fault_type(body) == "InvalidRoutes"
    status, body = await cloud.call(
        "PUT",
        f"/routers/{router['id']}/remove_router_interface",
        demo,
        {"subnet_id": "0b7f3f43-52a9-4d8c-9a3c-6b0b2f6f1c21"},
    )
    assert status == 404
    assert fault_type(body) == "RouterInterfaceNotFoundForSubnet"
    await cloud.ok("PUT", f"/routers/{router['id']}", demo, {"router": {"routes": []}})
    removed = await cloud.ok(
        "PUT", f"/routers/{router['id']}/remove_router_interface", demo, {"subnet_id": subnet["id"]}
    )
    assert removed["port_id"] == interface["id"]
    await cloud.ok("DELETE", f"/routers/{router['id']}", demo)
    everyone = (await cloud.ok("GET", f"/ports?device_id={router['id']}"))["ports"]
    assert everyone == []  # the gateway port went with the router


async def test_floating_ips(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    public = await public_id(cloud, demo)
    lonely = await cloud.network(demo)
    await cloud.subnet(lonely["id"], "10.21.0.0/24", demo)
    unrouted = await cloud.port(lonely["id"], demo)
    status, body = await cloud.call(
        "POST",
        "/floatingips",
        demo,
        {"floatingip": {"floating_network_id": public, "port_id": unrouted["id"]}},
    )
    assert status == 404
    assert fault_type(body) == "ExternalGatewayForFloatingIPNotFound"
    status, body = await cloud.call(
        "POST", "/floatingips", demo, {"floatingip": {"floating_network_id": lonely["id"]}}
    )
    assert status == 400, body
    made = await routed(cloud, demo, "10.22.0.0/24")
    port = await cloud.port(made["network"]["id"], demo)
    fip = (
        await cloud.ok(
            "POST", "/floatingips", demo, {"floatingip": {"floating_network_id": public}}
        )
    )["floatingip"]
    assert fip["port_id"] is None
    assert fip["floating_ip_address"].startswith("172.24.4.")
    body = await cloud.ok(
        "PUT", f"/floatingips/{fip['id']}", demo, {"floatingip": {"port_id": port["id"]}}
    )
    associated = body["floatingip"]
    assert associated["fixed_ip_address"] == port["fixed_ips"][0]["ip_address"]
    assert associated["router_id"] == made["router"]["id"]
    assert associated["port_details"]["mac_address"] == port["mac_address"]
    second = (
        await cloud.ok(
            "POST", "/floatingips", demo, {"floatingip": {"floating_network_id": public}}
        )
    )["floatingip"]
    status, body = await cloud.call(
        "PUT", f"/floatingips/{second['id']}", demo, {"floatingip": {"port_id": port["id"]}}
    )
    assert status == 409
    assert fault_type(body) == "FloatingIPPortAlreadyAssociated"
    status, body = await cloud.call(
        "PUT",
        f"/routers/{made['router']['id']}/remove_router_interface",
        demo,
        {"subnet_id": made["subnet"]["id"]},
    )
    assert status == 409
    assert fault_type(body) == "RouterInterfaceInUseByFloatingIP"
    status, body = await cloud.call(
        "POST",
        "/floatingips",
        demo,
        {"floatingip": {"floating_network_id": public, "floating_ip_address": "172.24.4.99"}},
    )
    assert status == 403, body
    other = await cloud.member()
    assert (await cloud.ok("GET", "/floatingips", other))["floatingips"] == []
    status, _ = await cloud.call("GET", f"/floatingips/{fip['id']}", other)
    assert status == 404
    body = await cloud.ok(
        "PUT", f"/floatingips/{fip['id']}", demo, {"floatingip": {"port_id": None}}
    )
    assert body["floatingip"]["fixed_ip_address"] is None
    await cloud.ok("DELETE", f"/floatingips/{fip['id']}", demo)
    status, _ = await cloud.call("GET", f"/floatingips/{fip['id']}", demo)
    assert status == 404


async def test_port_forwardings(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    made = await routed(cloud, demo, "10.23.0.0/24")
    port = await cloud.port(made["network"]["id"], demo)
    fip = (
        await cloud.ok(
            "POST",
            "/floatingips",
            demo,
            {"floatingip": {"floating_network_id": await public_id(cloud, demo)}},
        )
    )["floatingip"]
    base = f"/floatingips/{fip['id']}/port_forwardings"
    forwarding = {
        "internal_port_id": port["id"],
        "internal_port": 22,
        "external_port": 2222,
        "protocol": "tcp",
        "internal_ip_address": port["fixed_ips"][0]["ip_address"],
    }
    created = await cloud.ok("POST", base, demo, {"port_forwarding": forwarding})
    pf = created["port_forwarding"]
    assert pf["external_port"] == 2222
    status, body = await cloud.call("POST", base, demo, {"port_forwarding": forwarding})
    assert status == 409
    assert fault_type(body) == "PortForwardingAlreadyExists"
    status, body = await cloud.call(
        "POST", base, demo, {"port_forwarding": {**forwarding, "external_port": 70000}}
    )
    assert status == 400, body
    shown = await cloud.ok("GET", f"/floatingips/{fip['id']}", demo)
    assert shown["floatingip"]["port_forwardings"][0]["external_port"] == 2222
    await cloud.ok("PUT", f"{base}/{pf['id']}", demo, {"port_forwarding": {"external_port": 2200}})
    assert (await cloud.ok("GET", base, demo))["port_forwardings"][0]["external_port"] == 2200
    await cloud.ok("DELETE", f"{base}/{pf['id']}", demo)
    assert (await cloud.ok("GET", base, demo))["port_forwardings"] == []


async def test_security_groups_and_rules(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    [default] = (await cloud.ok("GET", "/security-groups", demo))["security_groups"]
    assert default["name"] == "default"
    rules = default["security_group_rules"]
    assert sorted(
        (r["direction"], r["ethertype"], r["remote_group_id"] is not None) for r in rules
    ) == [
        ("egress", "IPv4", False),
        ("egress", "IPv6", False),
        ("ingress", "IPv4", True),
        ("ingress", "IPv6", True),
    ]
    group = (await cloud.ok("POST", "/security-groups", demo, {"security_group": {"name": "web"}}))[
        "security_group"
    ]
    assert len(group["security_group_rules"]) == 2
    rule = {
        "security_group_id": group["id"],
        "direction": "ingress",
        "protocol": "tcp",
        "port_range_min": 80,
        "port_range_max": 80,
        "remote_ip_prefix": "0.0.0.0/0",
    }
    made = (await cloud.ok("POST", "/security-group-rules", demo, {"security_group_rule": rule}))[
        "security_group_rule"
    ]
    assert made["ethertype"] == "IPv4"
    status, body = await cloud.call(
        "POST", "/security-group-rules", demo, {"security_group_rule": rule}
    )
    assert status == 409
    assert fault_type(body) == "SecurityGroupRuleExists"
    for bad, wanted in (
        (
            {"protocol": "tcp", "port_range_min": 90, "port_range_max": 80},
            "SecurityGroupInvalidPortRange",
        ),
        ({"port_range_min": 22}, "SecurityGroupProtocolRequiredWithPorts"),
        ({"protocol": "icmp", "port_range_min": 300}, "SecurityGroupInvalidIcmpValue"),
        ({"protocol": "bogus"}, "SecurityGroupRuleInvalidProtocol"),
        (
            {"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": group["id"]},
            "SecurityGroupRemoteGroupAndRemoteIpPrefix",
        ),
        ({"remote_ip_prefix": "2001:db8::/32"}, "SecurityGroupConflictingEthertype"),
    ):
        status, body = await cloud.call(
            "POST",
            "/security-group-rules",
            demo,
            {
                "security_group_rule": {
                    "security_group_id": group["id"],
                    "direction": "ingress",
                    **bad,
                }
            },
        )
        assert status == 400, (bad, body)
        assert fault_type(body) == wanted, (bad, body)
    network = await cloud.network(demo)
    await cloud.subnet(network["id"], "10.24.0.0/24", demo)
    await cloud.port(network["id"], demo, security_groups=[group["id"]])
    status, body = await cloud.call("DELETE", f"/security-groups/{group['id']}", demo)
    assert status == 409
    assert fault_type(body) == "SecurityGroupInUse"
    status, body = await cloud.call("DELETE", f"/security-groups/{default['id']}", demo)
    assert status == 409, body
    other = await cloud.member()
    status, _ = await cloud.call("GET", f"/security-groups/{group['id']}", other)
    assert status == 404
    await cloud.ok("DELETE", f"/security-group-rules/{made['id']}", demo)
    status, _ = await cloud.call("GET", f"/security-group-rules/{made['id']}", demo)
    assert status == 404


async def test_quotas_are_enforced_and_detailed(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    await cloud.ok("PUT", f"/quotas/{demo.project_id}", None, {"quota": {"network": 2}})
    status, body = await cloud.call(
        "PUT", f"/quotas/{demo.project_id}", demo, {"quota": {"network": 50}}
    )
    assert status == 403, body
    await cloud.network(demo)
    await cloud.network(demo)
    status, body = await cloud.call("POST", "/networks", demo, {"network": {}})
    assert status == 409
    assert fault_type(body) == "OverQuota"
    details = await cloud.ok("GET", f"/quotas/{demo.project_id}/details", demo)
    assert details["quota"]["network"] == {"limit": 2, "used": 2, "reserved": 0}
    assert (await cloud.ok("GET", "/quotas/tenant", demo))["quota"]["network"] == 2
    other = await cloud.member()
    status, _ = await cloud.call("GET", f"/quotas/{demo.project_id}", other)
    assert status == 403
    await cloud.ok("DELETE", f"/quotas/{demo.project_id}")
    assert (await cloud.ok("GET", f"/quotas/{demo.project_id}", demo))["quota"]["network"] == 100


async def test_subnet_pools_carve_blocks(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    pool = (
        await cloud.ok(
            "POST",
            "/subnetpools",
            demo,
            {"subnetpool": {"name": "p", "prefixes": ["10.30.0.0/16"], "default_prefixlen": 24}},
        )
    )["subnetpool"]
    network = await cloud.network(demo)
    first = await cloud.subnet(network["id"], None, demo, subnetpool_id=pool["id"])
    second = await cloud.subnet(network["id"], None, demo, subnetpool_id=pool["id"], prefixlen=25)
    assert first["cidr"] == "10.30.0.0/24"
    assert second["cidr"] == "10.30.1.0/25"
    status, body = await cloud.call("DELETE", f"/subnetpools/{pool['id']}", demo)
    assert status == 409, body
    default = await cloud.subnet(network["id"], None, demo, use_default_subnetpool=True)
    assert default["cidr"].startswith("10.")
    await cloud.ok("DELETE", f"/subnets/{first['id']}", demo)
    again = await cloud.subnet(network["id"], None, demo, subnetpool_id=pool["id"])
    assert again["cidr"] == "10.30.0.0/24"


async def test_auto_allocated_topology(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    body = await cloud.ok("GET", f"/auto-allocated-topology/{demo.project_id}", demo)
    network_id = body["auto_allocated_topology"]["id"]
    again = await cloud.ok("GET", f"/auto-allocated-topology/{demo.project_id}", demo)
    assert again["auto_allocated_topology"]["id"] == network_id
    [subnet] = (await cloud.ok("GET", f"/subnets?network_id={network_id}", demo))["subnets"]
    routers = (await cloud.ok("GET", "/routers", demo))["routers"]
    assert [r["name"] for r in routers] == ["auto_allocated_router"]
    interface = (await cloud.ok("GET", f"/ports?device_id={routers[0]['id']}", demo))["ports"]
    assert interface[0]["fixed_ips"][0]["subnet_id"] == subnet["id"]
    await cloud.ok("DELETE", f"/auto-allocated-topology/{demo.project_id}", demo)
    assert (await cloud.ok("GET", "/routers", demo))["routers"] == []
    status, _ = await cloud.call("GET", f"/networks/{network_id}", demo)
    assert status == 404


async def test_agents_are_listed_for_admins_from_their_heartbeats(cloud: NetworkCloud) -> None:
    from cairn.events import ANY_VERSION, Metadata, registry
    from cairn.events import network as ev
    from cairn.store.port import StreamWrite

    beat = ev.NetworkAgentHeartbeat(
        host="node1", started_at="2026-12-03T00:00:00Z", kinds=["DHCP agent", "L3 agent"]
    )
    result = await cloud.store.append(
        StreamWrite("netagent-node1", [registry.new(beat, Metadata())], ANY_VERSION)
    )
    await cloud.networking.runner.wait_for(result.position)
    agents = (await cloud.ok("GET", "/agents"))["agents"]
    assert sorted(a["agent_type"] for a in agents) == ["DHCP agent", "L3 agent"]
    assert all(a["alive"] and a["host"] == "node1" for a in agents)
    shown = await cloud.ok("GET", f"/agents/{agents[0]['id']}")
    assert shown["agent"]["binary"].startswith("neutron-")
    assert (await cloud.ok("GET", "/agents?agent_type=L3+agent"))["agents"][0][
        "topic"
    ] == "l3_agent"
    demo = await cloud.member()
    assert (await cloud.ok("GET", "/agents", demo))["agents"] == []
    status, _ = await cloud.call("GET", f"/agents/{agents[0]['id']}", demo)
    assert status == 404


async def test_an_empty_gateway_is_no_gateway(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    body = await cloud.ok("POST", "/routers", demo, {"router": {"external_gateway_info": {}}})
    assert body["router"]["external_gateway_info"] is None
    made = await routed(cloud, demo, "10.25.0.0/24")
    cleared = await cloud.ok(
        "PUT", f"/routers/{made['router']['id']}", demo, {"router": {"external_gateway_info": {}}}
    )
    assert cleared["router"]["external_gateway_info"] is None
