"""IP address management: pools, the next free address, fixed addresses, SLAAC.

Pure functions over a subnet's attributes and the set of its addresses in use;
the deciders call them on the state at the subnet stream's version and append
the allocation there (see :mod:`cairn.events.network`), so what they find free
really is free when the append lands.
"""

from __future__ import annotations

import ipaddress
import itertools
from collections.abc import Container, Iterable, Iterator
from typing import Any

from cairn.network.errors import Conflict, Invalid

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def network(cidr: str) -> IPNetwork:
    return ipaddress.ip_network(cidr, strict=True)


def usable(net: IPNetwork) -> tuple[int, int]:
    """The first and last host address of ``net`` as integers (IPv4 leaves out the
    network and broadcast addresses, IPv6 the subnet-router anycast address)."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 4:
        if net.prefixlen >= 31:
            return first, last
        return first + 1, last - 1
    return first + 1, last


def default_pools(cidr: str, gateway: str | None) -> list[dict[str, str]]:
    """Neutron's default allocation pools: every usable address but the gateway's."""
    net = network(cidr)
    first, last = usable(net)
    cut = int(ipaddress.ip_address(gateway)) if gateway else None
    ranges = [(first, last)]
    if cut is not None and first <= cut <= last:
        ranges = [(first, cut - 1), (cut + 1, last)]
    make = ipaddress.ip_address
    return [{"start": str(make(a)), "end": str(make(b))} for a, b in ranges if a <= b]


def pool_ranges(pools: Iterable[dict[str, str]]) -> list[tuple[int, int]]:
    return [
        (int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"]))) for p in pools
    ]


def check_pools(cidr: str, gateway: str | None, pools: list[dict[str, str]]) -> None:
    """Raise unless every pool lies in ``cidr``, pools do not overlap, and the
    gateway is in none of them."""
    net = network(cidr)
    first, last = usable(net)
    ranges = []
    for pool in pools:
        try:
            start_ip, end_ip = (
                ipaddress.ip_address(pool["start"]),
                ipaddress.ip_address(pool["end"]),
            )
        except (KeyError, ValueError, TypeError):
            raise Invalid(f"Invalid input for allocation_pools: {pool!r}") from None
        start, end = int(start_ip), int(end_ip)
        if start_ip.version != net.version or end_ip.version != net.version or start > end:
            raise Invalid(
                f"The allocation pool {pool['start']}-{pool['end']} is not valid.",
                "InvalidAllocationPool",
            )
        if not (first <= start and end <= last):
            raise Invalid(
                f"The allocation pool {start_ip}-{end_ip} spans beyond the subnet cidr {cidr}.",
                "OutOfBoundsAllocationPool",
            )
        ranges.append((start, end))
    ranges.sort()
    for (_, end_a), (start_b, _) in itertools.pairwise(ranges):
        if start_b <= end_a:
            raise Invalid("Found overlapping allocation pools.", "OverlappingAllocationPools")
    if gateway:
        gw = int(ipaddress.ip_address(gateway))
        for start, end in ranges:
            if start <= gw <= end:
                raise Conflict(
                    f"Gateway ip {gateway} conflicts with allocation pool "
                    f"{ipaddress.ip_address(start)}-{ipaddress.ip_address(end)}.",
                    "GatewayConflictWithAllocationPools",
                )


def free_addresses(subnet: dict[str, Any], in_use: Container[str]) -> Iterator[str]:
    """The subnet's free pool addresses, lowest first."""
    make = ipaddress.ip_address
    for start, end in pool_ranges(subnet.get("allocation_pools") or []):
        address = start
        while address <= end:
            text = str(make(address))
            if text not in in_use:
                yield text
            address += 1


def pool_size(subnet: dict[str, Any]) -> int:
    return sum(end - start + 1 for start, end in pool_ranges(subnet.get("allocation_pools") or []))


def check_fixed(subnet: dict[str, Any], address: str, in_use: Container[str]) -> str:
    """``address`` normalized, if the subnet can give it out: in its cidr, a host
    address, not taken."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        raise Invalid(
            f"Invalid input for fixed_ips. Reason: '{address}' is not a valid IP address."
        ) from None
    net = network(subnet["cidr"])
    first, last = usable(net)
    if ip.version != net.version or not first <= int(ip) <= last:
        raise Invalid(
            f"IP address {address} is not a valid IP for the specified subnet.",
            "InvalidIpForSubnet",
        )
    text = str(ip)
    if text in in_use:
        raise Conflict(
            f"Unable to complete operation for network {subnet['network_id']}. The IP address "
            f"{text} is in use.",
            "IpAddressInUse",
        )
    return text


def is_slaac(subnet: dict[str, Any]) -> bool:
    return subnet.get("ip_version") == 6 and subnet.get("ipv6_address_mode") in (
        "slaac",
        "dhcpv6-stateless",
    )


def eui64(cidr: str, mac: str) -> str:
    """The SLAAC address of ``mac`` in the /64 ``cidr`` (RFC 4291 modified EUI-64)."""
    net = network(cidr)
    octets = [int(part, 16) for part in mac.split(":")]
    octets[0] ^= 0x02
    interface = [*octets[:3], 0xFF, 0xFE, *octets[3:]]
    suffix = int.from_bytes(bytes(interface), "big")
    return str(ipaddress.ip_address(int(net.network_address) | suffix))


def overlaps(a: str, b: str) -> bool:
    na, nb = network(a), network(b)
    return na.version == nb.version and na.overlaps(nb)


def in_subnet(address: str, cidr: str) -> bool:
    try:
        return ipaddress.ip_address(address) in network(cidr)
    except ValueError:
        return False
