"""Compute's state as the audit tool shows it: servers, compute hosts, flavors and
each project's quota usage; all views of the one ``compute`` projection.

``cairn audit replay --at T servers`` folds the compute projection once and
shows these rows; ``--project P`` keeps P's servers, P's usage and the flavors
P may use. Servers deleted by then show as ``deleted`` with their end time.
No row carries user data or key material.
"""

from __future__ import annotations

from cairn.projections.catalog import Row, catalog
from cairn.projections.compute import ComputeProjection
from cairn.projections.compute_state import ComputeState


def server_rows(state: ComputeState, project: str | None) -> list[Row]:
    return [
        {
            "id": server.id,
            "name": server.name,
            "project": server.project_id,
            "vm_state": server.vm_state,
            "task_state": server.task_state,
            "host": server.host,
            "flavor": server.flavor.name,
            "image": server.image.image_id,
            "created": server.created_at,
            "terminated": server.terminated_at,
        }
        for server in sorted(state.servers.values(), key=lambda s: (s.created_at, s.id))
        if project is None or server.project_id == project
    ]


def host_rows(state: ComputeState, project: str | None) -> list[Row]:
    # Hosts belong to no project: an admin's view, shown whole.
    return [
        {
            "host": host.host,
            "zone": host.availability_zone,
            "hypervisor": host.hypervisor_type,
            "enabled": host.enabled,
            "stopped": host.stopped,
            "vcpus_used": f"{host.used_vcpus}/{host.limit('vcpus')}",
            "memory_mb_used": f"{host.used_memory_mb}/{host.limit('memory_mb')}",
            "disk_gb_used": f"{host.used_disk_gb}/{host.limit('disk_gb')}",
            "claims": len(host.claims),
        }
        for host in sorted(state.hosts.values(), key=lambda h: h.host)
    ]


def flavor_rows(state: ComputeState, project: str | None) -> list[Row]:
    return [
        {
            "id": flavor.id,
            "name": flavor.name,
            "vcpus": flavor.vcpus,
            "ram_mb": flavor.ram_mb,
            "disk_gb": flavor.disk_gb,
            "public": flavor.is_public,
        }
        for flavor in sorted(state.flavors.values(), key=lambda f: (f.ram_mb, f.name))
        if project is None or flavor.is_public or project in flavor.projects
    ]


def usage_rows(state: ComputeState, project: str | None) -> list[Row]:
    return [
        {
            "project": project_id,
            "instances": usage.instances,
            "cores": usage.cores,
            "ram_mb": usage.ram_mb,
        }
        for project_id, usage in sorted(state.usage.items())
        if project is None or project_id == project
    ]


VIEWS = (
    ("servers", server_rows, "Nova servers: state, host, flavor, image, project",
     ("id", "name", "project", "vm_state", "task_state", "host", "flavor", "image",
      "created", "terminated")),
    ("hosts", host_rows, "compute hosts: zone, state, resources used of what may be allocated",
     ("host", "zone", "hypervisor", "enabled", "stopped", "vcpus_used", "memory_mb_used",
      "disk_gb_used", "claims")),
    ("flavors", flavor_rows, "flavors: size and visibility",
     ("id", "name", "vcpus", "ram_mb", "disk_gb", "public")),
    ("quotas", usage_rows, "each project's compute quota usage",
     ("project", "instances", "cores", "ram_mb")),
)  # fmt: skip

for name, rows, description, columns in VIEWS:
    catalog.register(name, ComputeProjection, rows=rows, columns=columns, description=description)
