"""Who sees and changes which networking resource (Neutron's default policy).

A resource belongs to its ``project_id``. Admins see and change everything.
Others see their own resources, networks that are ``shared`` or
``router:external``, the subnets of shared networks, and shared subnet pools;
they change only their own. A resource another project owns and the caller
may not see is answered as not found, never as forbidden, so its existence is
not disclosed.
"""

from __future__ import annotations

from dataclasses import dataclass

from cairn.projections.network import NetworkState, Resource


@dataclass(frozen=True, slots=True)
class Caller:
    project_id: str
    user_id: str
    is_admin: bool = False


def _public_network(network: Resource | None) -> bool:
    return network is not None and bool(network.get("shared") or network.get("router:external"))


def visible(state: NetworkState, caller: Caller, resource: Resource) -> bool:
    if caller.is_admin or resource.project_id == caller.project_id:
        return True
    kind = resource.kind
    if kind == "network":
        return _public_network(resource)
    if kind == "subnet":
        # An external network's subnets stay the admins' unless it is shared (Neutron).
        network = state.find("network", resource.get("network_id", ""))
        return network is not None and bool(network.get("shared"))
    if kind == "subnetpool":
        return bool(resource.get("shared"))
    return False


def editable(caller: Caller, resource: Resource) -> bool:
    return caller.is_admin or resource.project_id == caller.project_id
