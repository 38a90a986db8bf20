"""``/v2.0/extensions``: exactly the Neutron API extensions Cairn implements.

Clients (the CLI, openstacksdk, Tempest) decide what to send from this list,
so an alias appears here only when what it names works."""

from __future__ import annotations

from aiohttp import web

from cairn.network.errors import NotFound

UPDATED = "2026-12-03T00:00:00-00:00"
#: alias -> (name, description)
EXTENSIONS: dict[str, tuple[str, str]] = {
    "allowed-address-pairs": ("Allowed Address Pairs", "Provides allowed address pairs"),
    "auto-allocated-topology": (
        "Auto Allocated Topology Services",
        "Auto Allocated Topology Services.",
    ),
    "availability_zone": ("Availability Zone", "The availability zone extension."),
    "binding": ("Port Binding", "Expose port bindings of a virtual port to external application"),
    "default-subnetpools": (
        "Default Subnetpools",
        "Provides ability to mark and use a subnetpool as the default.",
    ),
    "external-net": (
        "Neutron external network",
        "Adds external network attribute to network resource.",
    ),
    "ext-gw-mode": (
        "Neutron L3 Configurable external gateway mode",
        "Extension of the router abstraction for specifying whether SNAT should "
        "occur on the external gateway",
    ),
    "extraroute": ("Neutron Extra Route", "Extra routes configuration for L3 router"),
    "fip-port-details": (
        "Floating IP Port Details Extension",
        "Add port_details attribute to Floating IP resource",
    ),
    "filter-validation": (
        "Filter parameters validation",
        "Provides validation on filter parameters.",
    ),
    "floating-ip-port-forwarding": (
        "Floating IP Port Forwarding",
        "Provides port forwarding to floating IP",
    ),
    "net-mtu": ("Network MTU", "Provides MTU attribute for a network resource."),
    "net-mtu-writable": (
        "Network MTU (writable)",
        "Provides a writable MTU attribute for a network resource.",
    ),
    "network_availability_zone": (
        "Network Availability Zone",
        "Availability zone support for network.",
    ),
    "pagination": ("Pagination support", "Extension that indicates that pagination is enabled."),
    "port-security": ("Port Security", "Provides port security"),
    "project-id": (
        "project_id field enabled",
        "Extension that indicates that project_id field is enabled.",
    ),
    "provider": ("Provider Network", "Expose mapping of virtual networks to physical networks"),
    "quotas": ("Quota management support", "Expose functions for quotas management per tenant"),
    "quota_details": (
        "Quota details management support",
        "Expose functions for quotas usage statistics per project",
    ),
    "revision-if-match": (
        "If-Match constraints based on revision_number",
        "Extension indicating that If-Match based on revision_number is supported.",
    ),
    "router": (
        "Neutron L3 Router",
        "Router abstraction for basic L3 forwarding between L2 "
        "Neutron networks and access to external networks via a NAT gateway.",
    ),
    "router_availability_zone": (
        "Router Availability Zone",
        "Availability zone support for router.",
    ),
    "security-group": ("security-group", "The security groups extension."),
    "sorting": ("Sorting support", "Extension that indicates that sorting is enabled."),
    "standard-attr-description": (
        "standard-attr-description",
        "Extension to add descriptions to standard attributes",
    ),
    "standard-attr-revisions": (
        "Resource revision numbers",
        "This extension will display the revision number of neutron resources.",
    ),
    "standard-attr-tag": (
        "Tag support for resources with standard attribute",
        "Enables to set tag on resources with standard attribute.",
    ),
    "standard-attr-timestamp": (
        "Resource timestamps",
        "Adds created_at and updated_at fields "
        "to all Neutron resources that have Neutron standard "
        "attributes.",
    ),
    "stateful-security-group": (
        "Stateful security group",
        "Indicates if the security group is stateful or not",
    ),
    "subnet_allocation": ("Subnet Allocation", "Enables allocation of subnets from a subnet pool"),
    "subnetpool-prefix-ops": (
        "Subnet Pool Prefix Operations",
        "Provides support for adjusting the prefix list of subnet pools",
    ),
}


def _render(alias: str) -> dict[str, object]:
    name, description = EXTENSIONS[alias]
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "updated": UPDATED,
        "links": [],
    }


async def list_extensions(request: web.Request) -> web.Response:
    return web.json_response({"extensions": [_render(a) for a in sorted(EXTENSIONS)]})


async def show_extension(request: web.Request) -> web.Response:
    alias = request.match_info["alias"]
    if alias not in EXTENSIONS:
        raise NotFound(f"Extension with alias {alias} does not exist", "HTTPNotFound")
    return web.json_response({"extension": _render(alias)})
