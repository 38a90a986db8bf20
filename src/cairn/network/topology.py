"""Neutron's auto-allocated topology: the network, subnet and router a project gets
when it asks for one (``GET /v2.0/auto-allocated-topology/{project}``, or a boot
with ``networks: "auto"``).

The network is named ``auto_allocated_network`` (one per project; a second
request finds it), its IPv4 subnet comes from the default subnet pool, and a
router joins it to the default external network.
"""

from __future__ import annotations

from cairn.network import networks, routers, subnets
from cairn.network.access import Caller
from cairn.network.config import NetworkConfig
from cairn.network.errors import Conflict, NotFound
from cairn.network.plan import Plan
from cairn.projections.network import Resource

NAME = "auto_allocated_network"
ROUTER = "auto_allocated_router"


def find(plan: Plan, project_id: str) -> Resource | None:
    return next(
        (
            n
            for n in plan.resources("network")
            if n.project_id == project_id and n.get("name") == NAME and n.get("auto_allocated")
        ),
        None,
    )


def ensure(plan: Plan, caller: Caller, config: NetworkConfig, project_id: str) -> Resource:
    found = find(plan, project_id)
    if found is not None:
        return found
    external = next(
        (n for n in plan.resources("network") if n.get("router:external") and n.get("is_default")),
        None,
    )
    if external is None:
        raise NotFound(
            "Deployment error: No default router:external network.", "AutoAllocationFailure"
        )
    if not any(
        p.get("is_default") and p.get("ip_version") == 4 for p in plan.resources("subnetpool")
    ):
        raise Conflict("Deployment error: No default subnetpools defined.", "AutoAllocationFailure")
    network = networks.create(plan, caller, config, {"name": NAME}, project_id)
    plan.update(network, {"auto_allocated": True})
    subnet = subnets.create(
        plan,
        caller,
        config,
        {
            "network_id": network.id,
            "name": "auto_allocated_subnet_v4",
            "ip_version": 4,
            "use_default_subnetpool": True,
        },
        project_id,
    )
    router = routers.create(
        plan,
        caller,
        config,
        {
            "name": ROUTER,
            "external_gateway_info": {"network_id": external.id},
        },
        project_id,
    )
    routers.add_interface(plan, caller, config, router.id, subnet.id, None)
    return network


def remove(plan: Plan, caller: Caller, project_id: str) -> None:
    network = find(plan, project_id)
    if network is None:
        raise NotFound(
            f"Auto-allocated topology of project {project_id} could not be found.",
            "TopologyNotFound",
        )
    for port in plan.resources("port"):
        if (
            port.get("network_id") == network.id
            and port.get("device_owner") == "network:router_interface"
        ):
            router = plan.find("router", port.get("device_id"))
            if router is None:
                continue
            for fixed in port.get("fixed_ips") or []:
                routers.remove_interface(plan, caller, router.id, fixed["subnet_id"], None)
            if router.get("name") == ROUTER:
                routers.delete(plan, caller, router.id)
    networks.delete(plan, caller, network.id)
