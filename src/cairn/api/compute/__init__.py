"""The compute service (Nova v2.1 with microversions) at ``/compute``.

Handlers are grouped by resource: :mod:`.servers` (with :mod:`.boot`,
:mod:`.actions`, :mod:`.metadata`, :mod:`.tags`, :mod:`.instance_actions`), :mod:`.flavors`,
:mod:`.keypairs`, :mod:`.quotas` (quota sets and limits), :mod:`.groups`,
:mod:`.hosts` (hypervisors, services, availability zones), :mod:`.os_hosts`,
:mod:`.aggregates`, :mod:`.usage`. What a resource
looks like at each microversion is in :mod:`.views`; the negotiation in
:mod:`.microversions`. The control plane behind them is :mod:`cairn.compute`.
"""

from __future__ import annotations

from cairn.api.compute import (
    actions,
    aggregates,
    discovery,
    extensions,
    flavors,
    groups,
    hosts,
    instance_actions,
    interfaces,
    ips,
    keypairs,
    metadata,
    network_proxy,
    os_hosts,
    quotas,
    security_groups,
    servers,
    tags,
    usage,
)
from cairn.api.compute.context import compute_ctx
from cairn.api.compute.errors import compute_errors
from cairn.api.compute.keys import COMPUTE, COMPUTE_CONFIG, IMAGE_PORT
from cairn.api.compute.microversions import microversion_middleware
from cairn.api.compute.request_id import compute_request_id
from cairn.api.identity import token_middleware
from cairn.api.services import CatalogEntry, Route, Service, delete, get, post, put

V = "/v2.1"

ROUTES: list[Route] = [
    get("", discovery.versions),
    get("/", discovery.versions),
    get(V, discovery.version),
    get(V + "/", discovery.version),
    get(V + "/extensions", extensions.list_extensions),
    get(V + "/extensions/{alias}", extensions.show_extension),
    # servers
    get(V + "/servers", servers.list_servers),
    post(V + "/servers", servers.create_server),
    get(V + "/servers/detail", servers.list_servers_detail),
    get(V + "/servers/{server_id}", servers.show_server),
    put(V + "/servers/{server_id}", servers.update_server),
    delete(V + "/servers/{server_id}", servers.delete_server),
    post(V + "/servers/{server_id}/action", actions.server_action),
    get(V + "/servers/{server_id}/metadata", metadata.list_metadata),
    post(V + "/servers/{server_id}/metadata", metadata.merge_metadata),
    put(V + "/servers/{server_id}/metadata", metadata.replace_metadata),
    get(V + "/servers/{server_id}/metadata/{key}", metadata.show_item),
    put(V + "/servers/{server_id}/metadata/{key}", metadata.put_item),
    delete(V + "/servers/{server_id}/metadata/{key}", metadata.delete_item),
    get(V + "/servers/{server_id}/ips", ips.list_ips),
    get(V + "/servers/{server_id}/tags", tags.list_tags),
    put(V + "/servers/{server_id}/tags", tags.replace_tags),
    delete(V + "/servers/{server_id}/tags", tags.delete_all_tags),
    get(V + "/servers/{server_id}/tags/{tag}", tags.check_tag),
    put(V + "/servers/{server_id}/tags/{tag}", tags.add_tag),
    delete(V + "/servers/{server_id}/tags/{tag}", tags.delete_tag),
    get(V + "/servers/{server_id}/os-interface", interfaces.list_interfaces),
    post(V + "/servers/{server_id}/os-interface", interfaces.attach_interface),
    get(V + "/servers/{server_id}/os-interface/{port_id}", interfaces.show_interface),
    delete(V + "/servers/{server_id}/os-interface/{port_id}", interfaces.detach_interface),
    get(V + "/servers/{server_id}/os-security-groups", security_groups.server_groups),
    get(V + "/os-security-groups", security_groups.list_groups),
    post(V + "/os-security-groups", security_groups.create_group),
    get(V + "/os-security-groups/{group_id}", security_groups.show_group),
    put(V + "/os-security-groups/{group_id}", security_groups.update_group),
    delete(V + "/os-security-groups/{group_id}", security_groups.delete_group),
    post(V + "/os-security-group-rules", security_groups.create_rule),
    get(V + "/os-floating-ips", network_proxy.list_floating_ips),
    post(V + "/os-floating-ips", network_proxy.create_floating_ip),
    get(V + "/os-floating-ips/{fip_id}", network_proxy.show_floating_ip),
    delete(V + "/os-floating-ips/{fip_id}", network_proxy.delete_floating_ip),
    get(V + "/os-floating-ip-pools", network_proxy.list_pools),
    get(V + "/os-networks", network_proxy.list_networks),
    get(V + "/os-networks/{network_id}", network_proxy.show_network),
    get(V + "/os-tenant-networks", network_proxy.list_tenant_networks),
    get(V + "/os-tenant-networks/{network_id}", network_proxy.show_tenant_network),
    delete(V + "/os-security-group-rules/{rule_id}", security_groups.delete_rule),
    get(V + "/servers/{server_id}/ips/{network}", ips.show_ips),
    get(V + "/servers/{server_id}/os-instance-actions", instance_actions.list_actions),
    get(V + "/servers/{server_id}/os-instance-actions/{request_id}", instance_actions.show_action),
    # flavors
    get(V + "/flavors", flavors.list_flavors),
    post(V + "/flavors", flavors.create_flavor),
    get(V + "/flavors/detail", flavors.list_flavors_detail),
    get(V + "/flavors/{flavor_id}", flavors.show_flavor),
    put(V + "/flavors/{flavor_id}", flavors.update_flavor),
    delete(V + "/flavors/{flavor_id}", flavors.delete_flavor),
    post(V + "/flavors/{flavor_id}/action", flavors.flavor_action),
    get(V + "/flavors/{flavor_id}/os-flavor-access", flavors.list_access),
    get(V + "/flavors/{flavor_id}/os-extra_specs", flavors.list_extra_specs),
    post(V + "/flavors/{flavor_id}/os-extra_specs", flavors.create_extra_specs),
    get(V + "/flavors/{flavor_id}/os-extra_specs/{key}", flavors.show_extra_spec),
    put(V + "/flavors/{flavor_id}/os-extra_specs/{key}", flavors.update_extra_spec),
    delete(V + "/flavors/{flavor_id}/os-extra_specs/{key}", flavors.delete_extra_spec),
    # keypairs
    get(V + "/os-keypairs", keypairs.list_keypairs),
    post(V + "/os-keypairs", keypairs.create_keypair),
    get(V + "/os-keypairs/{name}", keypairs.show_keypair),
    delete(V + "/os-keypairs/{name}", keypairs.delete_keypair),
    # quota and limits
    get(V + "/limits", quotas.limits),
    get(V + "/os-quota-sets/{project_id}", quotas.show_quota_set),
    put(V + "/os-quota-sets/{project_id}", quotas.update_quota_set),
    delete(V + "/os-quota-sets/{project_id}", quotas.delete_quota_set),
    get(V + "/os-quota-sets/{project_id}/defaults", quotas.show_defaults),
    get(V + "/os-quota-sets/{project_id}/detail", quotas.show_quota_detail),
    get(V + "/os-quota-class-sets/{class_name}", quotas.show_quota_class),
    put(V + "/os-quota-class-sets/{class_name}", quotas.update_quota_class),
    # server groups
    get(V + "/os-server-groups", groups.list_groups),
    post(V + "/os-server-groups", groups.create_group),
    get(V + "/os-server-groups/{group_id}", groups.show_group),
    delete(V + "/os-server-groups/{group_id}", groups.delete_group),
    # hosts
    get(V + "/os-hypervisors", hosts.list_hypervisors),
    get(V + "/os-hypervisors/detail", hosts.list_hypervisors_detail),
    get(V + "/os-hypervisors/statistics", hosts.hypervisor_statistics),
    get(V + "/os-hypervisors/{hypervisor_id}", hosts.show_hypervisor),
    get(V + "/os-hypervisors/{hypervisor_id}/uptime", hosts.hypervisor_uptime),
    get(V + "/os-hypervisors/{pattern}/search", hosts.search_hypervisors),
    get(V + "/os-hypervisors/{pattern}/servers", hosts.hypervisor_servers),
    get(V + "/os-services", hosts.list_services),
    put(V + "/os-services/{service_id}", hosts.put_service),
    get(V + "/os-hosts", os_hosts.list_hosts),
    get(V + "/os-hosts/{host_name}", os_hosts.show_host),
    put(V + "/os-hosts/{host_name}", os_hosts.update_host),
    get(V + "/os-hosts/{host_name}/startup", os_hosts.startup),
    get(V + "/os-hosts/{host_name}/shutdown", os_hosts.shutdown),
    get(V + "/os-hosts/{host_name}/reboot", os_hosts.reboot),
    get(V + "/os-simple-tenant-usage", usage.list_usage),
    get(V + "/os-simple-tenant-usage/{project_id}", usage.show_usage),
    get(V + "/os-instance_usage_audit_log", usage.list_audit_logs),
    get(V + "/os-instance_usage_audit_log/{before}", usage.show_audit_log),
    get(V + "/os-aggregates", aggregates.list_aggregates),
    post(V + "/os-aggregates", aggregates.create_aggregate),
    get(V + "/os-aggregates/{aggregate_id}", aggregates.show_aggregate),
    put(V + "/os-aggregates/{aggregate_id}", aggregates.update_aggregate),
    delete(V + "/os-aggregates/{aggregate_id}", aggregates.delete_aggregate),
    post(V + "/os-aggregates/{aggregate_id}/action", aggregates.aggregate_action),
    get(V + "/os-availability-zone", hosts.availability_zones),
    get(V + "/os-availability-zone/detail", hosts.availability_zones_detail),
]

SERVICE = Service(
    name="compute",
    title="Compute (Nova v2.1)",
    routes=ROUTES,
    contexts=[compute_ctx],
    middlewares=[compute_request_id, microversion_middleware, compute_errors, token_middleware],
    catalog=[CatalogEntry("compute", "nova", V)],
)

__all__ = ["COMPUTE", "COMPUTE_CONFIG", "IMAGE_PORT", "SERVICE"]
