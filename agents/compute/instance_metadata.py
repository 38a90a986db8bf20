"""What an instance is told about itself: Nova's metadata documents, one builder.

Two places hand these documents to a guest, and they must agree: the metadata
service at http://169.254.169.254/ (:mod:`cairn.agents.network.metadata`, from
this process's read models) and the config drive the compute agent writes at
spawn (:mod:`cairn.agents.compute.config_drive`, from the boot request and the
ports it bound). Both build an :class:`InstanceMetadata` and render it here:
``meta_data.json``, ``network_data.json`` and the EC2-style tree.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from ipaddress import ip_network
from typing import Any

#: The OpenStack API versions Nova lists (every one answers with the latest shapes).
OPENSTACK_VERSIONS = (
    "2012-08-10",
    "2013-04-04",
    "2013-10-17",
    "2015-10-15",
    "2016-06-30",
    "2016-10-06",
    "2017-02-22",
    "2018-08-27",
    "2020-10-14",
    "latest",
)
EC2_VERSIONS = ("1.0", "2007-01-19", "2009-04-04", "latest")


@dataclass(frozen=True)
class InstanceMetadata:
    """What the metadata service and the config drive tell one instance about itself."""

    uuid: str
    name: str
    hostname: str
    project_id: str
    availability_zone: str = "nova"
    public_keys: dict[str, str] = field(default_factory=dict)  #: key name -> public key
    user_data: bytes | None = None
    meta: dict[str, str] = field(default_factory=dict)
    network_data: dict[str, object] = field(default_factory=dict)  #: Nova's network_data.json
    local_ipv4: str | None = None  #: the address asked from (the service fills it in)
    launch_index: int = 0
    #: a rebuild's ``adminPass``: on the config drive only, never from the service
    admin_password: str | None = None


def meta_data(instance: InstanceMetadata) -> dict[str, object]:
    """Nova's ``meta_data.json``."""
    return {
        "uuid": instance.uuid,
        "name": instance.name,
        "hostname": instance.hostname,
        "project_id": instance.project_id,
        "availability_zone": instance.availability_zone,
        "launch_index": instance.launch_index,
        "meta": dict(instance.meta),
        "public_keys": dict(instance.public_keys),
        "keys": [
            {"name": name, "type": "ssh", "data": key}
            for name, key in sorted(instance.public_keys.items())
        ],
        "devices": [],
    }


def ec2_tree(instance: InstanceMetadata) -> dict[str, object]:
    """The EC2-style metadata as a tree (the service walks it; the drive writes it as JSON)."""
    keys = sorted(instance.public_keys.items())
    return {
        "ami-id": "ami-00000000",
        "ami-launch-index": str(instance.launch_index),
        "hostname": instance.hostname,
        "instance-id": "i-" + instance.uuid.replace("-", "")[:8],
        "local-hostname": instance.hostname,
        "local-ipv4": instance.local_ipv4 or "",
        "placement": {"availability-zone": instance.availability_zone},
        "public-keys": {f"{i}={name}": {"openssh-key": key} for i, (name, key) in enumerate(keys)},
    }


# -- network_data.json ----------------------------------------------------------------


@dataclass(frozen=True)
class FixedAddress:
    """One fixed address of a port, with what its subnet says about it."""

    ip_address: str
    network_id: str
    ip_version: int
    cidr: str
    gateway_ip: str | None = None
    enable_dhcp: bool = True
    dns_nameservers: tuple[str, ...] = ()


@dataclass(frozen=True)
class PortAddressing:
    """One port of the instance, as ``network_data.json`` describes it."""

    port_id: str
    #: the guest-side link's name: the port's tap
    link: str
    mac: str
    mtu: int | None
    addresses: tuple[FixedAddress, ...] = ()


def network_data(ports: list[PortAddressing]) -> dict[str, Any]:
    """Nova's ``network_data.json``: the instance's links, networks and DNS servers."""
    links: list[dict[str, Any]] = []
    networks: list[dict[str, Any]] = []
    services: list[dict[str, Any]] = []
    for port in sorted(ports, key=lambda p: p.port_id):
        links.append(
            {
                "id": port.link,
                "vif_id": port.port_id,
                "type": "bridge",
                "ethernet_mac_address": port.mac,
                "mtu": port.mtu,
            }
        )
        for fixed in port.addresses:
            v4 = fixed.ip_version == 4
            dhcp = v4 and fixed.enable_dhcp
            default = "0.0.0.0" if v4 else "::"
            routes = (
                [{"network": default, "netmask": default, "gateway": fixed.gateway_ip}]
                if fixed.gateway_ip
                else []
            )
            networks.append(
                {
                    "id": f"network{len(networks)}",
                    "link": port.link,
                    "network_id": fixed.network_id,
                    "type": ("ipv4_dhcp" if dhcp else "ipv4") if v4 else "ipv6",
                    "ip_address": fixed.ip_address,
                    "routes": routes,
                    "services": [],
                    # Nova's netmask is the mask itself (255.255.255.0, ffff:ffff::)
                    **({} if dhcp else {"netmask": str(ip_network(fixed.cidr).netmask)}),
                }
            )
            services.extend({"type": "dns", "address": dns} for dns in fixed.dns_nameservers)
    return {"links": links, "networks": networks, "services": services}
