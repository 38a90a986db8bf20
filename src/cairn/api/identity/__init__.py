"""The identity service (Keystone v3) at ``/identity``.

Handlers are grouped by resource: :mod:`.tokens` (``/v3/auth``),
:mod:`.projects` (domains and projects), :mod:`.users` (users and groups),
:mod:`.roles` (roles, grants, assignments), :mod:`.catalog`. Authentication
for this and every other service is :mod:`.auth`.
"""

from __future__ import annotations

from cairn.api.identity import (
    app_credentials,
    catalog,
    credentials,
    discovery,
    domain_configs,
    ec2_credentials,
    endpoint_filter,
    oauth1,
    project_tags,
    projects,
    roles,
    tokens,
    trusts,
    users,
)
from cairn.api.identity.auth import authorize, caller, token_middleware
from cairn.api.identity.context import identity_ctx
from cairn.api.identity.faults import identity_errors, keystone_fault
from cairn.api.identity.keys import CALLER, GENERATED_ADMIN_PASSWORD, IDENTITY, IDENTITY_CONFIG
from cairn.api.services import CatalogEntry, Route, Service, delete, get, patch, post, put


def _grant_routes() -> list[Route]:
    routes: list[Route] = []
    for scope in ("projects", "domains", "system"):
        for actor in ("users", "groups"):
            handlers = roles.grant_handlers(scope.rstrip("s"), actor.rstrip("s"))
            base = f"/v3/system/{actor}/{{actor_id}}/roles"
            if scope != "system":
                base = f"/v3/{scope}/{{scope_id}}/{actor}/{{actor_id}}/roles"
            routes += [
                get(base, handlers["LIST"]),
                put(base + "/{role_id}", handlers["PUT"]),
                get(base + "/{role_id}", handlers["GET"]),
                delete(base + "/{role_id}", handlers["DELETE"]),
            ]
    for scope in ("projects", "domains"):  # OS-INHERIT
        for actor in ("users", "groups"):
            handlers = roles.grant_handlers(scope.rstrip("s"), actor.rstrip("s"), inherited=True)
            base = f"/v3/OS-INHERIT/{scope}/{{scope_id}}/{actor}/{{actor_id}}/roles"
            routes += [
                put(base + "/{role_id}/inherited_to_projects", handlers["PUT"]),
                get(base + "/{role_id}/inherited_to_projects", handlers["GET"]),
                delete(base + "/{role_id}/inherited_to_projects", handlers["DELETE"]),
            ]
            if scope == "domains":
                routes.append(get(base + "/inherited_to_projects", handlers["LIST"]))
    return routes


def _crud(path: str, ident: str, module: object, singular: str) -> list[Route]:
    return [
        get(path, getattr(module, f"list_{singular}s")),
        post(path, getattr(module, f"create_{singular}")),
        get(f"{path}/{{{ident}}}", getattr(module, f"get_{singular}")),
        patch(f"{path}/{{{ident}}}", getattr(module, f"update_{singular}")),
        delete(f"{path}/{{{ident}}}", getattr(module, f"delete_{singular}")),
    ]


def _endpoint_filter_routes() -> list[Route]:
    ef = endpoint_filter
    group = "/v3/OS-EP-FILTER/endpoint_groups/{group_id}"
    project = "/v3/OS-EP-FILTER/projects/{project_id}"
    return [
        get("/v3/OS-EP-FILTER/endpoint_groups", ef.list_groups),
        post("/v3/OS-EP-FILTER/endpoint_groups", ef.create_group),
        get(group, ef.get_group),
        patch(group, ef.update_group),
        delete(group, ef.delete_group),
        get(group + "/endpoints", ef.group_endpoints),
        get(group + "/projects", ef.group_projects),
        put(group + "/projects/{project_id}", ef.add_project_group),
        get(group + "/projects/{project_id}", ef.check_project_group),
        delete(group + "/projects/{project_id}", ef.remove_project_group),
        get(project + "/endpoints", ef.project_endpoints),
        put(project + "/endpoints/{endpoint_id}", ef.add_project_endpoint),
        get(project + "/endpoints/{endpoint_id}", ef.check_project_endpoint),
        delete(project + "/endpoints/{endpoint_id}", ef.remove_project_endpoint),
        get(project + "/endpoint_groups", ef.project_groups),
        get("/v3/OS-EP-FILTER/endpoints/{endpoint_id}/projects", ef.endpoint_projects),
    ]


ROUTES: list[Route] = [
    get("", discovery.versions),
    get("/", discovery.versions),
    get("/v3", discovery.version),
    get("/v3/", discovery.version),
    post("/v3/auth/tokens", tokens.issue),
    get("/v3/auth/tokens", tokens.validate),
    delete("/v3/auth/tokens", tokens.revoke),
    get("/v3/auth/catalog", tokens.auth_catalog),
    get("/v3/auth/projects", tokens.auth_projects),
    get("/v3/auth/domains", tokens.auth_domains),
    get("/v3/auth/system", tokens.auth_system),
    get("/v3/domains/config/default", domain_configs.defaults),
    get("/v3/domains/config/{group}/default", domain_configs.group_defaults),
    get("/v3/domains/config/{group}/{option}/default", domain_configs.option_default),
    *_crud("/v3/domains", "domain_id", projects, "domain"),
    put("/v3/domains/{domain_id}/config", domain_configs.put_config),
    get("/v3/domains/{domain_id}/config", domain_configs.get_config),
    patch("/v3/domains/{domain_id}/config", domain_configs.patch_config),
    delete("/v3/domains/{domain_id}/config", domain_configs.delete_config),
    get("/v3/domains/{domain_id}/config/{group}", domain_configs.get_group),
    patch("/v3/domains/{domain_id}/config/{group}", domain_configs.patch_group),
    delete("/v3/domains/{domain_id}/config/{group}", domain_configs.delete_group),
    get("/v3/domains/{domain_id}/config/{group}/{option}", domain_configs.get_option),
    patch("/v3/domains/{domain_id}/config/{group}/{option}", domain_configs.patch_option),
    delete("/v3/domains/{domain_id}/config/{group}/{option}", domain_configs.delete_option),
    *_crud("/v3/projects", "project_id", projects, "project"),
    get("/v3/projects/{project_id}/tags", project_tags.list_tags),
    put("/v3/projects/{project_id}/tags", project_tags.replace_tags),
    delete("/v3/projects/{project_id}/tags", project_tags.delete_tags),
    get("/v3/projects/{project_id}/tags/{tag}", project_tags.check_tag),
    put("/v3/projects/{project_id}/tags/{tag}", project_tags.add_tag),
    delete("/v3/projects/{project_id}/tags/{tag}", project_tags.delete_tag),
    *_crud("/v3/users", "user_id", users, "user"),
    post("/v3/users/{user_id}/password", users.change_own_password),
    get("/v3/users/{user_id}/projects", users.user_projects),
    get("/v3/users/{user_id}/groups", users.user_groups),
    get("/v3/users/{user_id}/credentials/OS-EC2", ec2_credentials.list_ec2),
    post("/v3/users/{user_id}/credentials/OS-EC2", ec2_credentials.create_ec2),
    get("/v3/users/{user_id}/credentials/OS-EC2/{access}", ec2_credentials.show_ec2),
    delete("/v3/users/{user_id}/credentials/OS-EC2/{access}", ec2_credentials.delete_ec2),
    get("/v3/users/{user_id}/access_rules", app_credentials.list_rules),
    get("/v3/users/{user_id}/access_rules/{rule_id}", app_credentials.show_rule),
    delete("/v3/users/{user_id}/access_rules/{rule_id}", app_credentials.delete_rule),
    get("/v3/users/{user_id}/application_credentials", app_credentials.listing),
    post("/v3/users/{user_id}/application_credentials", app_credentials.create),
    get("/v3/users/{user_id}/application_credentials/{cred_id}", app_credentials.show),
    delete("/v3/users/{user_id}/application_credentials/{cred_id}", app_credentials.remove),
    get("/v3/groups", users.list_groups),
    post("/v3/groups", users.create_group),
    get("/v3/groups/{group_id}", users.get_group),
    patch("/v3/groups/{group_id}", users.update_group),
    delete("/v3/groups/{group_id}", users.delete_group),
    get("/v3/groups/{group_id}/users", users.group_users),
    put("/v3/groups/{group_id}/users/{user_id}", users.add_member),
    get("/v3/groups/{group_id}/users/{user_id}", users.check_member),
    delete("/v3/groups/{group_id}/users/{user_id}", users.remove_member),
    *_crud("/v3/roles", "role_id", roles, "role"),
    get("/v3/roles/{prior_id}/implies", roles.list_implied),
    put("/v3/roles/{prior_id}/implies/{implied_id}", roles.put_implied),
    get("/v3/roles/{prior_id}/implies/{implied_id}", roles.check_implied),
    delete("/v3/roles/{prior_id}/implies/{implied_id}", roles.delete_implied),
    get("/v3/role_inferences", roles.list_inferences),
    *_grant_routes(),
    get("/v3/role_assignments", roles.role_assignments),
    get("/v3/regions", catalog.list_regions),
    post("/v3/regions", catalog.create_region),
    get("/v3/regions/{region_id}", catalog.get_region),
    put("/v3/regions/{region_id}", catalog.put_region),
    patch("/v3/regions/{region_id}", catalog.update_region),
    delete("/v3/regions/{region_id}", catalog.delete_region),
    get("/v3/services", catalog.list_services),
    post("/v3/services", catalog.create_service),
    get("/v3/services/{service_id}", catalog.get_service),
    patch("/v3/services/{service_id}", catalog.update_service),
    delete("/v3/services/{service_id}", catalog.delete_service),
    get("/v3/endpoints", catalog.list_endpoints),
    post("/v3/endpoints", catalog.create_endpoint),
    get("/v3/endpoints/{endpoint_id}", catalog.get_endpoint),
    patch("/v3/endpoints/{endpoint_id}", catalog.update_endpoint),
    delete("/v3/endpoints/{endpoint_id}", catalog.delete_endpoint),
    *_crud("/v3/credentials", "credential_id", credentials, "credential"),
    *_endpoint_filter_routes(),
    get("/v3/OS-TRUST/trusts", trusts.list_trusts),
    get("/v3/OS-TRUST/trusts/", trusts.list_trusts),  # keystoneclient's spelling
    post("/v3/OS-TRUST/trusts", trusts.create_trust),
    get("/v3/OS-TRUST/trusts/{trust_id}", trusts.get_trust),
    delete("/v3/OS-TRUST/trusts/{trust_id}", trusts.delete_trust),
    get("/v3/OS-TRUST/trusts/{trust_id}/roles", trusts.trust_roles),
    get("/v3/OS-TRUST/trusts/{trust_id}/roles/{role_id}", trusts.trust_role),
    get("/v3/OS-OAUTH1/consumers", oauth1.list_consumers),
    post("/v3/OS-OAUTH1/consumers", oauth1.create_consumer),
    get("/v3/OS-OAUTH1/consumers/{consumer_id}", oauth1.get_consumer),
    patch("/v3/OS-OAUTH1/consumers/{consumer_id}", oauth1.update_consumer),
    delete("/v3/OS-OAUTH1/consumers/{consumer_id}", oauth1.delete_consumer),
    get("/v3/policies", credentials.list_policies),
    post("/v3/policies", credentials.create_policy),
    get("/v3/policies/{policy_id}", credentials.get_policy),
    patch("/v3/policies/{policy_id}", credentials.update_policy),
    delete("/v3/policies/{policy_id}", credentials.delete_policy),
]

SERVICE = Service(
    name="identity",
    title="Identity (Keystone v3)",
    routes=ROUTES,
    contexts=[identity_ctx],
    middlewares=[identity_errors, token_middleware],
    fault_style=keystone_fault,
    catalog=[CatalogEntry("identity", "keystone")],
)

__all__ = [
    "CALLER",
    "GENERATED_ADMIN_PASSWORD",
    "IDENTITY",
    "IDENTITY_CONFIG",
    "SERVICE",
    "authorize",
    "caller",
    "token_middleware",
]
