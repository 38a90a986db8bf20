"""Keystone v3 behaviour that Tempest checks, as the api-ref specifies it: regions
with parents and ids of one's choosing, endpoints that create their region,
partial policy updates, project tags, users' extra attributes, 64-character
names, inference rules, cascading domain deletes, self-service passwords."""

from __future__ import annotations

from typing import Any

from tests.identity.conftest import ADMIN_PASSWORD, Cloud


async def made(cloud: Cloud, kind: str, body: dict[str, Any], path: str = "") -> Any:
    status, answer = await cloud.call("POST", path or f"/{kind}s", json={kind: body})
    assert status == 201, answer
    return answer[kind]


async def test_regions_put_with_an_id_patch_and_parents(cloud: Cloud) -> None:
    status, body = await cloud.call("PUT", "/regions/north", json={"region": {}})
    assert status == 201, body
    assert body["region"]["id"] == "north"
    status, body = await cloud.call("PUT", "/regions/north", json={"region": {}})
    assert status == 409
    child = await made(cloud, "region", {"id": "north-1", "parent_region_id": "north"})
    assert child["parent_region_id"] == "north"
    status, body = await cloud.call(
        "PATCH", "/regions/north", json={"region": {"description": "cold"}}
    )
    assert status == 200
    assert body["region"]["description"] == "cold"
    # no cycles, no missing parents, no id that differs from the path's
    for path, change in (
        ("/regions/north", {"parent_region_id": "north-1"}),
        ("/regions/north", {"parent_region_id": "north"}),
    ):
        status, body = await cloud.call("PATCH", path, json={"region": change})
        assert status == 400, body
        assert body["error"]["code"] == 400
    status, _ = await cloud.call(
        "PATCH", "/regions/north", json={"region": {"parent_region_id": "x"}}
    )
    assert status == 404
    status, _ = await cloud.call("PUT", "/regions/a", json={"region": {"id": "b"}})
    assert status == 400
    status, _ = await cloud.call("DELETE", "/regions/north")
    assert status == 409  # it has a child
    _, body = await cloud.call("GET", "/regions?parent_region_id=north")
    assert [r["id"] for r in body["regions"]] == ["north-1"]


async def test_an_endpoint_creates_its_region(cloud: Cloud) -> None:
    service = await made(cloud, "service", {"type": "thing"})
    endpoint = await made(
        cloud,
        "endpoint",
        {
            "service_id": service["id"],
            "interface": "public",
            "url": "http://x/",
            "region_id": "brand-new",
        },
    )
    assert endpoint["region_id"] == "brand-new"
    status, body = await cloud.call("GET", "/regions/brand-new")
    assert status == 200, body
    status, body = await cloud.call(
        "PATCH", f"/endpoints/{endpoint['id']}", json={"endpoint": {"region_id": "newer"}}
    )
    assert status == 200, body
    assert (await cloud.call("GET", "/regions/newer"))[0] == 200


async def test_policy_patch_changes_only_what_it_names(cloud: Cloud) -> None:
    policy = await made(
        cloud, "policy", {"blob": '{"a": "b"}', "type": "application/json"}, "/policies"
    )
    status, body = await cloud.call(
        "PATCH", f"/policies/{policy['id']}", json={"policy": {"type": "text/plain"}}
    )
    assert status == 200, body
    assert (body["policy"]["type"], body["policy"]["blob"]) == ("text/plain", '{"a": "b"}')


async def test_project_tags(cloud: Cloud) -> None:
    project = await made(cloud, "project", {"name": "tagged", "tags": ["a"]})
    base = f"/projects/{project['id']}/tags"
    assert (await cloud.call("PUT", f"{base}/b"))[0] == 201
    assert (await cloud.call("GET", f"{base}/b"))[0] == 204
    _, body = await cloud.call("GET", base)
    assert body == {"tags": ["a", "b"]}
    status, body = await cloud.call("PUT", base, json={"tags": ["x", "y", "x"]})
    assert status == 200
    assert body == {"tags": ["x", "y"]}
    _, body = await cloud.call("GET", "/projects?tags=x,y")
    assert [p["id"] for p in body["projects"]] == [project["id"]]
    _, body = await cloud.call("GET", "/projects?not-tags-any=x")
    assert project["id"] not in [p["id"] for p in body["projects"]]
    assert (await cloud.call("DELETE", f"{base}/x"))[0] == 204
    assert (await cloud.call("DELETE", f"{base}/x"))[0] == 404
    assert (await cloud.call("GET", f"{base}/x"))[0] == 404
    for bad in (["a,b"], ["a/b"], [""], [f"t{n}" for n in range(81)]):
        status, body = await cloud.call("PUT", base, json={"tags": bad})
        assert status == 400, bad
    assert (await cloud.call("DELETE", base))[0] == 204
    _, body = await cloud.call("GET", base)
    assert body == {"tags": []}
    assert (await cloud.call("GET", "/projects/nope/tags"))[0] == 404


async def test_users_keep_extra_attributes(cloud: Cloud) -> None:
    project = await made(cloud, "project", {"name": "home"})
    user = await made(cloud, "user", {"name": "extra", "project_id": project["id"], "n": 3})
    assert (user["project_id"], user["n"]) == (project["id"], 3)
    status, body = await cloud.call(
        "PATCH", f"/users/{user['id']}", json={"user": {"project_id": "other"}}
    )
    assert status == 200, body
    assert (body["user"]["project_id"], body["user"]["n"]) == ("other", 3)
    _, body = await cloud.call("GET", f"/users/{user['id']}")
    assert body["user"]["project_id"] == "other"
    status, _ = await cloud.call("POST", "/users", json={"user": {"name": "n", "x": {"deep": 1}}})
    assert status == 400


async def test_domain_and_project_names_are_at_most_64_characters(cloud: Cloud) -> None:
    for kind in ("domain", "project"):
        status, body = await cloud.call("POST", f"/{kind}s", json={kind: {"name": "n" * 65}})
        assert status == 400, body
        await made(cloud, kind, {"name": "n" * 64})


async def test_inference_rules_name_one_implied_role_and_not_a_domain_role(cloud: Cloud) -> None:
    prior = await made(cloud, "role", {"name": "prior"})
    implied = await made(cloud, "role", {"name": "implied"})
    status, body = await cloud.call("PUT", f"/roles/{prior['id']}/implies/{implied['id']}")
    assert status == 201
    assert body["role_inference"]["implies"]["id"] == implied["id"]
    domain = await made(cloud, "domain", {"name": "roles"})
    local = await made(cloud, "role", {"name": "local", "domain_id": domain["id"]})
    status, body = await cloud.call("PUT", f"/roles/{prior['id']}/implies/{local['id']}")
    assert status == 403, body
    status, body = await cloud.call("PUT", f"/roles/{local['id']}/implies/{prior['id']}")
    assert status == 201, body


async def test_deleting_a_disabled_domain_deletes_what_it_holds(cloud: Cloud) -> None:
    domain = await made(cloud, "domain", {"name": "doomed"})
    parent = await made(cloud, "project", {"name": "p", "domain_id": domain["id"]})
    child = await made(cloud, "project", {"name": "c", "parent_id": parent["id"]})
    user = await made(cloud, "user", {"name": "u", "domain_id": domain["id"]})
    group = await made(cloud, "group", {"name": "g", "domain_id": domain["id"]})
    _, roles = await cloud.call("GET", "/roles?name=member")
    member = roles["roles"][0]["id"]
    put = f"/projects/{child['id']}/users/{user['id']}/roles/{member}"
    assert (await cloud.call("PUT", put))[0] == 204
    await cloud.call("PATCH", f"/domains/{domain['id']}", json={"domain": {"enabled": False}})
    status, body = await cloud.call("DELETE", f"/domains/{domain['id']}")
    assert status == 204, body
    for path in (
        f"/projects/{parent['id']}",
        f"/projects/{child['id']}",
        f"/users/{user['id']}",
        f"/groups/{group['id']}",
        f"/domains/{domain['id']}",
    ):
        assert (await cloud.call("GET", path))[0] == 404, path
    _, body = await cloud.call("GET", f"/role_assignments?user.id={user['id']}")
    assert body["role_assignments"] == []
    await made(cloud, "domain", {"name": "doomed"})  # the name is free again


async def test_an_admin_may_change_a_password_given_the_original(cloud: Cloud) -> None:
    user = await made(cloud, "user", {"name": "pw", "password": "first-pw-1"})
    body = {"user": {"original_password": "wrong", "password": "second-pw-2"}}
    status, _ = await cloud.call("POST", f"/users/{user['id']}/password", json=body)
    assert status == 401
    body["user"]["original_password"] = "first-pw-1"
    status, answer = await cloud.call("POST", f"/users/{user['id']}/password", json=body)
    assert status == 204, answer
    await cloud.token("pw", "second-pw-2")
    assert ADMIN_PASSWORD  # the admin's own token did it


async def test_application_credential_expiry_is_answered_as_given(cloud: Cloud) -> None:
    _, users = await cloud.call("GET", "/users?name=admin")
    user_id = users["users"][0]["id"]
    body = {"application_credential": {"name": "exp", "expires_at": "2031-01-02T03:04:05.123456"}}
    status, answer = await cloud.call(
        "POST", f"/users/{user_id}/application_credentials", json=body
    )
    assert status == 201, answer
    assert answer["application_credential"]["expires_at"] == "2031-01-02T03:04:05.123456"


async def test_oauth1_consumers_show_their_secret_once(cloud: Cloud) -> None:
    consumer = await made(cloud, "consumer", {"description": "a"}, "/OS-OAUTH1/consumers")
    assert consumer["secret"]
    path = f"/OS-OAUTH1/consumers/{consumer['id']}"
    _, body = await cloud.call("GET", path)
    assert body["consumer"]["description"] == "a"
    assert "secret" not in body["consumer"]
    _, body = await cloud.call("GET", "/OS-OAUTH1/consumers")
    assert [c["id"] for c in body["consumers"]] == [consumer["id"]]
    status, body = await cloud.call("PATCH", path, json={"consumer": {"description": "b"}})
    assert status == 200
    assert body["consumer"]["description"] == "b"
    status, body = await cloud.call("PATCH", path, json={"consumer": {"secret": "mine"}})
    assert status == 400
    # the log holds the secret sealed, never as it was shown
    events = await cloud.identity.store.read_all(after=0, limit=10_000)
    assert not any(consumer["secret"] in repr(e) for e in events)
    assert (await cloud.call("DELETE", path))[0] == 204
    assert (await cloud.call("GET", path))[0] == 404


async def test_domain_configuration(cloud: Cloud) -> None:
    domain = await made(cloud, "domain", {"name": "configured"})
    base = f"/domains/{domain['id']}/config"
    config = {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://x/", "password": "pw"}}
    assert (await cloud.call("GET", base))[0] == 404
    status, body = await cloud.call("PUT", base, json={"config": config})
    assert status == 201, body
    assert body["config"] == {"identity": {"driver": "ldap"}, "ldap": {"url": "ldap://x/"}}
    _, body = await cloud.call("GET", f"{base}/ldap/url")
    assert body == {"config": {"url": "ldap://x/"}}
    assert (await cloud.call("GET", f"{base}/ldap/password"))[0] == 404  # never shown
    status, body = await cloud.call(
        "PATCH", f"{base}/identity", json={"config": {"identity": {"list_limit": 5}}}
    )
    assert status == 200, body
    assert body["config"]["identity"] == {"driver": "ldap", "list_limit": 5}
    status, body = await cloud.call(
        "PATCH", f"{base}/identity/driver", json={"config": {"driver": "sql"}}
    )
    assert body["config"]["identity"]["driver"] == "sql"
    assert (await cloud.call("DELETE", f"{base}/identity/driver"))[0] == 204
    assert (await cloud.call("GET", f"{base}/identity/driver"))[0] == 404
    assert (await cloud.call("DELETE", f"{base}/identity"))[0] == 204
    assert (await cloud.call("GET", f"{base}/identity"))[0] == 404
    refused = (
        ({"nova": {"x": 1}}, 403),
        ({"ldap": {"nope": 1}}, 403),
        ({"ldap": {"url": {"deep": 1}}}, 400),
        ({"ldap": []}, 400),
    )
    for bad, status_wanted in refused:
        status, body = await cloud.call("PATCH", base, json={"config": bad})
        assert status == status_wanted, (bad, body)
    assert (await cloud.call("DELETE", base))[0] == 204
    assert (await cloud.call("GET", base))[0] == 404
    _, body = await cloud.call("GET", "/domains/config/default")
    assert set(body["config"]) == {"identity", "ldap"}
    assert "password" not in body["config"]["ldap"]
    _, body = await cloud.call("GET", "/domains/config/ldap/url/default")
    assert body == {"config": {"url": "ldap://localhost"}}
    assert (await cloud.call("GET", "/domains/config/nova/default"))[0] == 404


async def test_a_project_acting_as_a_domain(cloud: Cloud) -> None:
    project = await made(cloud, "project", {"name": "realm", "is_domain": True})
    assert (project["is_domain"], project["domain_id"]) == (True, None)
    _, body = await cloud.call("GET", "/domains")
    assert project["id"] in [d["id"] for d in body["domains"]]
    _, body = await cloud.call("GET", "/projects?is_domain=true")
    assert [p["id"] for p in body["projects"]] == [project["id"]]
    _, body = await cloud.call("GET", "/projects")
    assert project["id"] not in [p["id"] for p in body["projects"]]
    inner = await made(cloud, "project", {"name": "inner", "domain_id": project["id"]})
    patch = {"project": {"enabled": False}}
    assert (await cloud.call("PATCH", f"/projects/{project['id']}", json=patch))[0] == 200
    _, body = await cloud.call("GET", f"/domains/{project['id']}")
    assert body["domain"]["enabled"] is False
    assert (await cloud.call("DELETE", f"/projects/{project['id']}"))[0] == 204
    for path in (f"/projects/{project['id']}", f"/domains/{project['id']}",
                 f"/projects/{inner['id']}"):  # fmt: skip
        assert (await cloud.call("GET", path))[0] == 404, path


async def test_a_rescoped_token_names_both_methods(cloud: Cloud) -> None:
    unscoped = await cloud.token("admin", ADMIN_PASSWORD)
    scope = {"project": {"name": "admin", "domain": {"id": "default"}}}
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": unscoped}}, "scope": scope}}
    response = await cloud.client.post("/identity/v3/auth/tokens", json=body)
    assert response.status == 201
    assert set((await response.json())["token"]["methods"]) == {"password", "token"}


async def test_domain_roles_are_not_effective_but_what_they_imply_is(cloud: Cloud) -> None:
    domain = await made(cloud, "domain", {"name": "dr"})
    local = await made(cloud, "role", {"name": "local", "domain_id": domain["id"]})
    _, body = await cloud.call("GET", "/roles?name=reader")
    reader = body["roles"][0]["id"]
    project = await made(cloud, "project", {"name": "drp"})
    user = await made(cloud, "user", {"name": "dru"})
    put = f"/projects/{project['id']}/users/{user['id']}/roles/{local['id']}"
    assert (await cloud.call("PUT", put))[0] == 204
    query = f"/role_assignments?effective&user.id={user['id']}&scope.project.id={project['id']}"
    _, body = await cloud.call("GET", query)
    assert body["role_assignments"] == []
    assert (await cloud.call("PUT", f"/roles/{local['id']}/implies/{reader}"))[0] == 201
    _, body = await cloud.call("GET", query)
    assert [a["role"]["id"] for a in body["role_assignments"]] == [reader]


async def test_os_inherit_grants_reach_the_projects_below(cloud: Cloud) -> None:
    domain = await made(cloud, "domain", {"name": "inh"})
    parent = await made(cloud, "project", {"name": "parent", "domain_id": domain["id"]})
    leaf = await made(cloud, "project", {"name": "leaf", "parent_id": parent["id"]})
    user = await made(cloud, "user", {"name": "heir", "domain_id": domain["id"]})
    role = await made(cloud, "role", {"name": "inherited-role"})

    async def effective(project: str) -> list[str]:
        query = f"/role_assignments?effective&user.id={user['id']}&scope.project.id={project}"
        _, body = await cloud.call("GET", query)
        return [a["role"]["id"] for a in body["role_assignments"]]

    on_parent = f"/OS-INHERIT/projects/{parent['id']}/users/{user['id']}/roles/{role['id']}"
    path = on_parent + "/inherited_to_projects"
    assert (await cloud.call("PUT", path))[0] == 204
    assert (await cloud.call("GET", path))[0] == 204
    assert await effective(leaf["id"]) == [role["id"]]
    assert await effective(parent["id"]) == []  # not the project itself
    assert (await cloud.call("DELETE", path))[0] == 204
    assert await effective(leaf["id"]) == []
    on_domain = f"/OS-INHERIT/domains/{domain['id']}/users/{user['id']}/roles"
    assert (await cloud.call("PUT", f"{on_domain}/{role['id']}/inherited_to_projects"))[0] == 204
    _, body = await cloud.call("GET", f"{on_domain}/inherited_to_projects")
    assert [r["id"] for r in body["roles"]] == [role["id"]]
    assert await effective(parent["id"]) == [role["id"]]
    assert await effective(leaf["id"]) == [role["id"]]
    _, body = await cloud.call("GET", "/role_assignments?scope.OS-INHERIT:inherited_to=projects")
    assert body["role_assignments"][0]["scope"]["OS-INHERIT:inherited_to"] == "projects"


async def test_ec2_credentials(cloud: Cloud) -> None:
    project = await made(cloud, "project", {"name": "ec2p"})
    user = await made(cloud, "user", {"name": "ec2u", "password": "ec2-pw-123"})
    _, roles = await cloud.call("GET", "/roles?name=member")
    member = roles["roles"][0]["id"]
    base = f"/users/{user['id']}/credentials/OS-EC2"
    status, body = await cloud.call("POST", base, json={"tenant_id": project["id"]})
    assert status == 403, body  # no role on the project yet
    await cloud.call("PUT", f"/projects/{project['id']}/users/{user['id']}/roles/{member}")
    token = await cloud.token("ec2u", "ec2-pw-123", "ec2p")
    status, body = await cloud.call("POST", base, token=token, json={"tenant_id": project["id"]})
    assert status == 201, body
    cred = body["credential"]
    assert (cred["user_id"], cred["tenant_id"]) == (user["id"], project["id"])
    assert len(cred["access"]) == len(cred["secret"]) == 32
    _, body = await cloud.call("GET", f"{base}/{cred['access']}", token=token)
    assert body["credential"]["secret"] == cred["secret"]
    _, body = await cloud.call("GET", base, token=token)
    assert [c["access"] for c in body["credentials"]] == [cred["access"]]
    _, body = await cloud.call("GET", "/credentials?type=ec2")
    assert len(body["credentials"]) == 1
    other = await made(cloud, "user", {"name": "other", "password": "other-pw-1"})
    await cloud.call("PUT", f"/projects/{project['id']}/users/{other['id']}/roles/{member}")
    nosy = await cloud.token("other", "other-pw-1", "ec2p")
    assert (await cloud.call("GET", f"{base}/{cred['access']}", token=nosy))[0] == 403
    events = await cloud.identity.store.read_all(after=0, limit=10_000)
    assert not any(cred["secret"] in repr(e) for e in events)
    assert (await cloud.call("DELETE", f"{base}/{cred['access']}", token=token))[0] == 204
    assert (await cloud.call("GET", f"{base}/{cred['access']}", token=token))[0] == 404


async def test_the_bootstrap_makes_keystones_manager_role(cloud: Cloud) -> None:
    _, body = await cloud.call("GET", "/roles?name=manager")
    manager = body["roles"][0]["id"]
    _, body = await cloud.call("GET", f"/roles/{manager}/implies")
    assert [r["name"] for r in body["role_inference"]["implies"]] == ["member"]
    _, body = await cloud.call("GET", "/role_inferences")
    rules = {(r["prior_role"]["name"], i["name"]) for r in body["role_inferences"]
             for i in r["implies"]}  # fmt: skip
    assert {("admin", "manager"), ("manager", "member"), ("member", "reader")} <= rules


async def test_role_assignments_include_the_subtree_when_asked(cloud: Cloud) -> None:
    parent = await made(cloud, "project", {"name": "top"})
    child = await made(cloud, "project", {"name": "below", "parent_id": parent["id"]})
    user = await made(cloud, "user", {"name": "tree-user"})
    _, roles = await cloud.call("GET", "/roles?name=member")
    member = roles["roles"][0]["id"]
    for project in (parent, child):
        put = f"/projects/{project['id']}/users/{user['id']}/roles/{member}"
        assert (await cloud.call("PUT", put))[0] == 204
    base = f"/role_assignments?user.id={user['id']}&scope.project.id={parent['id']}"
    _, body = await cloud.call("GET", base)
    assert [a["scope"]["project"]["id"] for a in body["role_assignments"]] == [parent["id"]]
    _, body = await cloud.call("GET", base + "&include_subtree=true")
    found = {a["scope"]["project"]["id"] for a in body["role_assignments"]}
    assert found == {parent["id"], child["id"]}
    status, _ = await cloud.call("GET", "/role_assignments?include_subtree=true")
    assert status == 400
    status, _ = await cloud.call("POST", "/groups", json={"group": {"name": "g" * 65}})
    assert status == 400
