"""The network agent's planner: the networking read model in, the machine's plan out."""

from __future__ import annotations

from datetime import UTC, datetime

from cairn.agents.network.planner import host_plan
from cairn.projections.network import NetworkState, Resource

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def _resource(kind: str, ident: str, **attributes: object) -> Resource:
    return Resource(ident, kind, "p1", dict(attributes), NOW, NOW)


def _state(router_up: bool) -> NetworkState:
    state = NetworkState()
    state.resources = {
        "network": {"n1": _resource("network", "n1", mtu=1450)},
        "subnet": {
            "s1": _resource(
                "subnet",
                "s1",
                network_id="n1",
                cidr="10.0.0.0/24",
                ip_version=4,
                gateway_ip="10.0.0.1",
                enable_dhcp=False,
            )
        },
        "router": {"r1": _resource("router", "r1", admin_state_up=router_up, routes=[])},
        "port": {
            "rp": _resource(
                "port",
                "rp",
                network_id="n1",
                device_id="r1",
                device_owner="network:router_interface",
                mac_address="fa:16:3e:00:00:01",
                fixed_ips=[{"subnet_id": "s1", "ip_address": "10.0.0.1"}],
            )
        },
    }
    return state


def test_an_administratively_down_router_keeps_its_legs_and_forwards_nothing() -> None:
    (up,) = host_plan(_state(True), ["h1"]).routers
    (down,) = host_plan(_state(False), ["h1"]).routers
    assert up.forwarding
    assert not down.forwarding
    assert [i.port_id for i in down.interfaces] == [i.port_id for i in up.interfaces] == ["rp"]
