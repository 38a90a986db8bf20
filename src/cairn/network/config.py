"""What the networking service is configured with, and the settings it registers.

The composition root builds :class:`NetworkConfig` from the settings; the
defaults describe the all-in-one: one external network, ``public``, whose
outside world is a namespace of Cairn's own (``cairn-public``), so floating IPs
are reachable from there and no packet leaves the machine.
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: Neutron's default quotas ([quotas] of neutron.conf).
DEFAULT_QUOTAS: dict[str, int] = {
    "network": 100,
    "subnet": 100,
    "port": 500,
    "router": 10,
    "floatingip": 50,
    "security_group": 10,
    "security_group_rule": 100,
    "subnetpool": -1,
}


@dataclass(frozen=True, slots=True)
class NetworkConfig:
    #: the default limits of every project (an admin overrides them per project)
    quotas: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_QUOTAS))
    #: the external network made on the first start (``None``: none)
    public_cidr: str | None = "172.24.4.0/24"
    public_network: str = "public"
    #: the MTU of tenant networks
    mtu: int = 1500
    #: the address range the auto-allocated topology and default pools draw from
    default_prefixes: tuple[str, ...] = ("10.0.0.0/8",)
    default_prefixlen: int = 26
    #: items a listing returns at most without a ``limit`` (Neutron: no cap)
    max_page: int = 10_000
