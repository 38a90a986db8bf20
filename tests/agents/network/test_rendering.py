"""The pure parts: names, plan checks, and the nftables and dnsmasq texts (each
ruleset also passes ``nft --check`` in a scratch namespace)."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from cairn.agents.network import dhcp, namespaces, nat, nft, security_groups
from cairn.agents.network.desired import (
    IFNAMSIZ,
    FloatingIP,
    HostPlan,
    Lease,
    NetworkSpec,
    PortFilter,
    PortForward,
    RouterPort,
    RouterSpec,
    SecurityRule,
    SubnetDhcp,
    bridge_name,
    dhcp_device,
    dhcp_leg,
    external_leg,
    router_device,
    router_leg,
    tap_name,
    vxlan_name,
)
from cairn.agents.network.errors import InvalidPlan

from .lab import Lab

ID = str(uuid.uuid4())


def test_every_interface_name_fits_linux() -> None:
    names = [
        bridge_name(ID), tap_name(ID), dhcp_leg(ID), dhcp_device(ID), router_leg(ID),
        router_device(ID, gateway=True), router_device(ID, gateway=False),
        external_leg(bridge_name(ID)), vxlan_name(2**24 - 1),
    ]  # fmt: skip
    assert all(len(name) <= IFNAMSIZ for name in names)
    assert bridge_name(ID) == "brq" + ID[:11]
    assert tap_name(ID) == "tap" + ID[:11]


def test_a_plan_with_a_port_on_no_network_is_refused() -> None:
    net = NetworkSpec(ID)
    stray = PortFilter(str(uuid.uuid4()), "brqnowhere", "fa:16:3e:00:00:01")
    assert HostPlan(networks=(net,), ports=(stray,)).problems() == [
        f"port {stray.port_id} is on bridge 'brqnowhere', which no network has"
    ]
    assert HostPlan(networks=(net, NetworkSpec(ID[:11] + "x"))).problems() != []


def _ports() -> list[PortFilter]:
    net = NetworkSpec(ID)
    return [
        PortFilter(
            "aaaaaaaa-0000-4000-8000-000000000000",
            net.bridge,
            "FA:16:3E:00:00:0A",
            ("10.0.0.10", "fd00::10"),
            allowed_pairs=(("10.0.9.0/24", "fa:16:3e:00:00:99"), ("10.0.0.77", "")),
            rules=(
                SecurityRule("egress"),
                SecurityRule("ingress", protocol="tcp", port_min=22, port_max=22),
                SecurityRule("ingress", protocol="udp", port_min=5000, port_max=5100,
                             remote_ip_prefix="192.168.0.0/16"),
                SecurityRule("ingress", protocol="icmp", port_min=8, port_max=0),
                SecurityRule("ingress", "IPv6", protocol="icmpv6"),
                SecurityRule("ingress", protocol="47", remote_ips=("10.0.0.11", "fd00::11")),
                SecurityRule("ingress", protocol="tcp", remote_ips=()),  # an empty group
                SecurityRule("ingress", "IPv6", remote_ip_prefix="10.0.0.0/8"),  # wrong family
            ),
        ),
        PortFilter("bbbbbbbb-0000-4000-8000-000000000000", net.bridge, "fa:16:3e:00:00:0b",
                   ("10.0.0.11",), port_security=False),
    ]  # fmt: skip


def test_security_group_tables() -> None:
    bridge, inet = security_groups.tables(_ports())
    assert (bridge.family, bridge.name, inet.family, inet.name) == (
        "bridge", "cairn-sg", "inet", "cairn-sg",
    )  # fmt: skip
    assert "tapbbbbbbbb-00" not in bridge.body  # no port security: no filter at all
    assert '"tapaaaaaaaa-00" : jump from-1' in bridge.body
    assert (
        "ether type ip ip saddr . ether saddr != { 10.0.0.10 . fa:16:3e:00:00:0a, "
        "10.0.9.0/24 . fa:16:3e:00:00:99, 10.0.0.77 . fa:16:3e:00:00:0a } drop"
    ) in bridge.body
    rules = inet.body.split("chain ingress-1 {")[1]
    assert "meta nfproto ipv4 meta l4proto tcp th dport 22 accept" in rules
    assert (
        "meta nfproto ipv4 ip saddr 192.168.0.0/16 meta l4proto udp th dport 5000-5100 accept"
    ) in rules
    assert "meta nfproto ipv4 meta l4proto icmp icmp type 8 icmp code 0 accept" in rules
    assert "meta nfproto ipv6 meta l4proto ipv6-icmp accept" in rules
    assert "meta nfproto ipv4 ip saddr 10.0.0.11 meta l4proto 47 accept" in rules
    assert rules.count("accept") == 7  # DHCP replies, ND, and the five rules that can match
    assert security_groups.tables(_ports()[1:]) == []


def test_a_rule_nobody_understands_is_an_invalid_plan() -> None:
    port = PortFilter(ID, bridge_name(ID), "fa:16:3e:00:00:01",
                      rules=(SecurityRule("ingress", protocol="carrier-pigeon"),))  # fmt: skip
    with pytest.raises(InvalidPlan, match="carrier-pigeon"):
        security_groups.tables([port])


def _router() -> RouterSpec:
    return RouterSpec(
        "11111111-0000-4000-8000-000000000000",
        gateway=RouterPort("22222222-0000-4000-8000-000000000000", "brqpublic", "172.24.4.2/24",
                           "fa:16:3e:00:ff:02"),
        interfaces=(RouterPort("33333333-0000-4000-8000-000000000000", "brqa", "10.0.0.1/24",
                               "fa:16:3e:00:0a:01"),),
        floating_ips=(FloatingIP("172.24.4.10", "10.0.0.5"),),
        port_forwardings=(PortForward("172.24.4.11", "tcp", 8022, "10.0.0.6", 22),),
    )  # fmt: skip


def test_the_nat_table() -> None:
    (table,) = nat.tables(_router())
    lines = table.body.splitlines()
    assert "ip daddr 172.24.4.11 tcp dport 8022 dnat to 10.0.0.6:22" in lines
    assert "ip daddr 172.24.4.10 dnat to 10.0.0.5" in lines
    assert 'oifname "qg-22222222-00" ip saddr 10.0.0.5 snat to 172.24.4.10' in lines
    assert 'oifname "qg-22222222-00" ip saddr 10.0.0.0/24 snat to 172.24.4.2' in lines
    assert nat.floating_addresses(_router()) == ["172.24.4.10", "172.24.4.11"]
    assert nat.tables(RouterSpec("r")) == []


def test_fingerprints_follow_the_text() -> None:
    (a,) = nat.tables(_router())
    (b,) = nat.tables(RouterSpec(**{**_router().__dict__, "snat": False}))
    assert a.fingerprint != b.fingerprint
    assert nft.stale([a], {a.key: a.fingerprint}) == ([], [])
    assert nft.stale([b], {a.key: a.fingerprint, ("ip", "cairn-old"): ""}) == (
        [b], [("ip", "cairn-old")],
    )  # fmt: skip


async def test_every_rendered_table_passes_nft_check(lab: Lab) -> None:
    scratch = await lab.namespace("nft")
    tables = security_groups.tables(_ports()) + nat.tables(_router())
    text = nft.script(tables, [("ip", "cairn-old")])
    await namespaces.run(["nft", "--check", "-f", "-"], scratch, stdin=text.encode())


def test_dnsmasq_configuration(tmp_path: Path) -> None:
    subnet = SubnetDhcp(
        "s1",
        "10.0.0.0/24",
        "10.0.0.2",
        None,
        leases=(Lease("FA:16:3E:00:00:05", "10.0.0.5", "My_VM!"),),
    )
    v6 = SubnetDhcp("s2", "fd00::/64", "fd00::2", None)
    config = dhcp.config(NetworkSpec("n1", dhcp=(subnet, v6)), tmp_path, "ns-n1")
    assert "--dhcp-range=set:subnet-s1,10.0.0.0,static,255.255.255.0,86400s" in config.argv
    assert not any("fd00" in arg for arg in config.argv)  # IPv6 is not served
    assert config.hosts == "fa:16:3e:00:00:05,10.0.0.5,my-vm\n"
    assert config.opts == "tag:subnet-s1,option:router\ntag:subnet-s1,option:mtu,1500\n"
