"""``/extensions``: Nova's (frozen, pre-microversion) extension list, as far as Cairn
has each one.

Nova lists a fixed set of extensions whatever its deployment does; Cairn lists
only those whose API it serves, each with the path (or, for an attribute of a
server or flavor view, the view) that carries it; a test checks that every
listed path is routed, so the list cannot claim what is not there.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.compute.auth import authorize
from cairn.api.compute.common import json
from cairn.api.faults import HTTPFault

UPDATED = "2014-12-03T00:00:00Z"
NAMESPACE = "http://docs.openstack.org/compute/ext/fake_xml"

#: (alias, name, description, the path that serves it or None for a view attribute)
EXTENSIONS: tuple[tuple[str, str, str, str | None], ...] = (
    ("OS-DCF", "DiskConfig", "The disk configuration of a server.", None),
    ("OS-EXT-AZ", "ExtendedAvailabilityZone", "A server's availability zone.", None),
    ("OS-EXT-IPS", "ExtendedIps", "The type of each of a server's addresses.", None),
    ("OS-EXT-IPS-MAC", "ExtendedIpsMac", "The MAC address of each of a server's addresses.", None),
    ("OS-EXT-SRV-ATTR", "ExtendedServerAttributes", "A server's host and instance name.", None),
    ("OS-EXT-STS", "ExtendedStatus", "A server's vm, task and power states.", None),
    ("OS-FLV-DISABLED", "FlavorDisabled", "Whether a flavor is disabled.", None),
    ("OS-FLV-EXT-DATA", "FlavorExtraData", "A flavor's ephemeral disk.", None),
    ("OS-SCH-HNT", "SchedulerHints", "Hints to the scheduler at boot.", None),
    ("OS-SRV-USG", "ServerUsage", "When a server was launched and terminated.", None),
    ("os-access-ips", "AccessIPs", "The addresses a server is reached at.", None),
    (
        "os-admin-actions",
        "AdminActions",
        "Admin-only server actions: os-resetState.",
        "/servers/{server_id}/action",
    ),
    ("os-aggregates", "Aggregates", "Admin-only host aggregates.", "/os-aggregates"),
    (
        "os-attach-interfaces",
        "AttachInterfaces",
        "Attach and detach a server's ports.",
        "/servers/{server_id}/os-interface",
    ),
    (
        "os-availability-zone",
        "AvailabilityZone",
        "Availability zones and their hosts.",
        "/os-availability-zone",
    ),
    ("os-config-drive", "ConfigDrive", "A config drive at boot.", None),
    (
        "os-console-output",
        "ConsoleOutput",
        "A server's console log, with tailing.",
        "/servers/{server_id}/action",
    ),
    (
        "os-extended-quotas",
        "ExtendedQuotas",
        "Admins delete and force quota sets.",
        "/os-quota-sets/{project_id}",
    ),
    ("os-extended-services", "ExtendedServices", "A service's disabled reason.", "/os-services"),
    (
        "os-flavor-access",
        "FlavorAccess",
        "Private flavors and who may use them.",
        "/flavors/{flavor_id}/os-flavor-access",
    ),
    (
        "os-flavor-extra-specs",
        "FlavorExtraSpecs",
        "A flavor's extra specs.",
        "/flavors/{flavor_id}/os-extra_specs",
    ),
    ("os-flavor-manage", "FlavorManage", "Create and delete flavors.", "/flavors"),
    ("os-flavor-rxtx", "FlavorRxtx", "A flavor's rxtx factor.", None),
    ("os-flavor-swap", "FlavorSwap", "A flavor's swap.", None),
    ("os-hosts", "Hosts", "Admin-only host administration.", "/os-hosts"),
    ("os-hypervisor-status", "HypervisorStatus", "A hypervisor's state and status.", None),
    ("os-hypervisors", "Hypervisors", "Admin-only hypervisor administration.", "/os-hypervisors"),
    (
        "os-instance-actions",
        "InstanceActions",
        "The actions taken on a server.",
        "/servers/{server_id}/os-instance-actions",
    ),
    (
        "os-instance_usage_audit_log",
        "OSInstanceUsageAuditLog",
        "Admin-only usage audits.",
        "/os-instance_usage_audit_log",
    ),
    ("os-keypairs", "Keypairs", "Keypairs.", "/os-keypairs"),
    ("os-lock-server", "LockServer", "Lock and unlock servers.", "/servers/{server_id}/action"),
    ("os-multiple-create", "MultipleCreate", "Boot several servers in one request.", None),
    ("os-pause-server", "PauseServer", "Pause and unpause servers.", "/servers/{server_id}/action"),
    (
        "os-quota-class-sets",
        "QuotaClasses",
        "The default quota class.",
        "/os-quota-class-sets/{class_name}",
    ),
    ("os-quota-sets", "Quotas", "Quotas.", "/os-quota-sets/{project_id}"),
    (
        "os-security-groups",
        "SecurityGroups",
        "Security groups (networking's).",
        "/os-security-groups",
    ),
    ("os-server-group-quotas", "ServerGroupQuotas", "Quotas of server groups.", None),
    ("os-server-groups", "ServerGroups", "Server groups.", "/os-server-groups"),
    ("os-server-list-multi-status", "ServerListMultiStatus", "Filter servers by statuses.", None),
    (
        "os-server-start-stop",
        "ServerStartStop",
        "Start and stop servers.",
        "/servers/{server_id}/action",
    ),
    ("os-services", "Services", "Compute services.", "/os-services"),
    (
        "os-simple-tenant-usage",
        "SimpleTenantUsage",
        "Usage per project and server.",
        "/os-simple-tenant-usage",
    ),
    (
        "os-suspend-server",
        "SuspendServer",
        "Suspend and resume servers.",
        "/servers/{server_id}/action",
    ),
    ("os-used-limits", "UsedLimits", "What a project uses of its limits.", "/limits"),
    ("os-user-data", "UserData", "User data at boot.", None),
)


def _view(alias: str, name: str, description: str) -> dict[str, Any]:
    return {
        "alias": alias,
        "name": name,
        "description": description,
        "links": [],
        "namespace": NAMESPACE,
        "updated": UPDATED,
    }


async def list_extensions(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:extensions")
    return json({"extensions": [_view(a, n, d) for a, n, d, _ in EXTENSIONS]})


async def show_extension(request: web.Request) -> web.Response:
    await authorize(request, "os_compute_api:extensions")
    alias = request.match_info["alias"]
    for found, name, description, _ in EXTENSIONS:
        if found == alias:
            return json({"extension": _view(found, name, description)})
    raise HTTPFault.not_found(f"Extension {alias} is not served by this cloud.")
