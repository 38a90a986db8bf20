"""The networking service (Neutron v2.0) at ``/networking``.

Every resource kind shares one set of collection handlers (:mod:`.resources`:
list with filters, fields, sorting and paging; show; create, one or in bulk;
update with ``If-Match``; delete), checked against Neutron's attribute map
(:mod:`.attributes`) and decided by :mod:`cairn.network`. Besides them: router
interfaces (:mod:`.routers`), tags (:mod:`.tags`), quotas (:mod:`.quotas`),
port forwardings (:mod:`.forwardings`), the auto-allocated topology
(:mod:`.topology`), extensions and version discovery. Errors are Neutron's
``NeutronError`` bodies (:mod:`.faults`).
"""

from __future__ import annotations

from cairn.api.identity import token_middleware
from cairn.api.network import (
    agents,
    discovery,
    extensions,
    forwardings,
    quotas,
    resources,
    routers,
    tags,
    topology,
    zones,
)
from cairn.api.network.context import network_ctx
from cairn.api.network.faults import network_errors, neutron_fault
from cairn.api.network.keys import NETWORK_CONFIG, NETWORKING
from cairn.api.services import CatalogEntry, Route, Service, delete, get, post, put

V = "/v2.0"


def _collection_routes() -> list[Route]:
    routes: list[Route] = []
    for spec in resources.KINDS.values():
        path = f"{V}/{spec.plural.replace('_', '-')}"
        routes += [
            get(path, resources.list_handler(spec)),
            post(path, resources.create_handler(spec)),
            get(path + "/{id}", resources.show_handler(spec)),
            put(path + "/{id}", resources.update_handler(spec)),
            delete(path + "/{id}", resources.delete_handler(spec)),
        ]
    return routes


TAGS = V + "/{collection}/{id}/tags"
FORWARDINGS = V + "/floatingips/{id}/port_forwardings"

ROUTES: list[Route] = [
    get("", discovery.versions),
    get("/", discovery.versions),
    get(V, discovery.version),
    get(V + "/", discovery.version),
    get(V + "/extensions", extensions.list_extensions),
    get(V + "/extensions/{alias}", extensions.show_extension),
    *_collection_routes(),
    put(V + "/routers/{id}/add_router_interface", routers.add_interface),
    put(V + "/routers/{id}/remove_router_interface", routers.remove_interface),
    get(TAGS, tags.list_tags),
    put(TAGS, tags.replace_tags),
    delete(TAGS, tags.delete_tags),
    get(TAGS + "/{tag}", tags.check_tag),
    put(TAGS + "/{tag}", tags.add_tag),
    delete(TAGS + "/{tag}", tags.delete_tag),
    get(FORWARDINGS, forwardings.list_forwardings),
    post(FORWARDINGS, forwardings.create_forwarding),
    get(FORWARDINGS + "/{pf_id}", forwardings.show_forwarding),
    put(FORWARDINGS + "/{pf_id}", forwardings.update_forwarding),
    delete(FORWARDINGS + "/{pf_id}", forwardings.delete_forwarding),
    get(V + "/quotas", quotas.list_quotas),
    get(V + "/quotas/{project_id}", quotas.show_quota),
    put(V + "/quotas/{project_id}", quotas.update_quota),
    delete(V + "/quotas/{project_id}", quotas.delete_quota),
    get(V + "/quotas/{project_id}/default", quotas.show_default),
    get(V + "/quotas/{project_id}/details", quotas.show_details),
    get(V + "/auto-allocated-topology/{project_id}", topology.show),
    delete(V + "/auto-allocated-topology/{project_id}", topology.delete),
    get(V + "/availability_zones", zones.list_zones),
    get(V + "/agents", agents.list_agents),
    get(V + "/agents/{id}", agents.show_agent),
]

SERVICE = Service(
    name="network",
    title="Networking (Neutron v2.0)",
    routes=ROUTES,
    contexts=[network_ctx],
    middlewares=[network_errors, token_middleware],
    fault_style=neutron_fault,
    catalog=[CatalogEntry("network", "neutron")],
)

__all__ = ["NETWORKING", "NETWORK_CONFIG", "SERVICE"]
