"""``/identity`` discovery and ``/v3/auth``: issue, validate, revoke, scopes."""

from __future__ import annotations

import re
from typing import Any

from tests.identity.conftest import ADMIN_PASSWORD, Cloud

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$")


def password_auth(user: str, password: str, scope: Any = None) -> dict[str, Any]:
    auth: dict[str, Any] = {
        "identity": {
            "methods": ["password"],
            "password": {
                "user": {"name": user, "domain": {"name": "Default"}, "password": password}
            },
        }
    }
    if scope is not None:
        auth["scope"] = scope
    return {"auth": auth}


async def test_discovery_at_the_root_and_at_v3(cloud: Cloud) -> None:
    response = await cloud.client.get("/identity")
    assert response.status == 300
    [version] = (await response.json())["versions"]["values"]
    assert version["status"] == "stable"
    assert version["links"][0]["href"].endswith("/identity/v3/")
    response = await cloud.client.get("/identity/v3")
    assert response.status == 200
    assert (await response.json())["version"]["id"].startswith("v3.")


async def test_a_project_token_has_roles_catalog_and_times(cloud: Cloud) -> None:
    scope = {"project": {"name": "admin", "domain": {"id": "default"}}}
    response = await cloud.client.post(
        "/identity/v3/auth/tokens", json=password_auth("admin", ADMIN_PASSWORD, scope)
    )
    assert response.status == 201
    token = (await response.json())["token"]
    assert response.headers["X-Subject-Token"].startswith("c1")
    assert token["methods"] == ["password"]
    assert token["user"]["name"] == "admin"
    assert token["user"]["domain"] == {"id": "default", "name": "Default"}
    assert token["project"]["name"] == "admin"
    assert {r["name"] for r in token["roles"]} == {"admin", "manager", "member", "reader"}
    assert STAMP.match(token["issued_at"])
    assert STAMP.match(token["expires_at"])
    # This cloud serves identity only, so that is all its catalog lists.
    [keystone] = token["catalog"]
    assert keystone["type"] == "identity"
    public = next(e for e in keystone["endpoints"] if e["interface"] == "public")
    assert public["url"].endswith("/identity")
    assert public["region"] == public["region_id"] == "RegionOne"


async def test_unscoped_domain_and_system_tokens(cloud: Cloud) -> None:
    for scope, key in (
        ("unscoped", None),
        ({"domain": {"id": "default"}}, None),
        ({"system": {"all": True}}, "system"),
    ):
        response = await cloud.client.post(
            "/identity/v3/auth/tokens", json=password_auth("admin", ADMIN_PASSWORD, scope)
        )
        body = await response.json()
        if scope == "unscoped":
            token = body["token"]
            assert response.status == 201
            assert "project" not in token
            assert "catalog" not in token
        elif key == "system":
            assert response.status == 201
            assert body["token"]["system"] == {"all": True}
        else:  # admin holds no role on the Default domain itself
            assert response.status == 401


async def test_a_token_rescopes_with_the_token_method(cloud: Cloud) -> None:
    unscoped = await cloud.token("admin", ADMIN_PASSWORD, scope="unscoped")
    body = {
        "auth": {
            "identity": {"methods": ["token"], "token": {"id": unscoped}},
            "scope": {"project": {"name": "demo", "domain": {"id": "default"}}},
        }
    }
    # admin has no role on demo: refused; on admin: fine.
    response = await cloud.client.post("/identity/v3/auth/tokens", json=body)
    assert response.status == 401
    body["auth"]["scope"] = {"project": {"name": "admin", "domain": {"id": "default"}}}
    response = await cloud.client.post("/identity/v3/auth/tokens", json=body)
    assert response.status == 201
    token = (await response.json())["token"]
    assert token["methods"] == ["password", "token"]  # how the first was had, and token
    assert len(token["audit_ids"]) == 2


async def test_wrong_passwords_are_401_and_audited(cloud: Cloud) -> None:
    before = await cloud.identity.store.head()
    for user in ("admin", "nobody"):
        response = await cloud.client.post(
            "/identity/v3/auth/tokens", json=password_auth(user, "wrong-password")
        )
        assert response.status == 401
        body = await response.json()
        assert body["error"]["code"] == 401
        assert body["error"]["title"] == "Unauthorized"
        assert "WWW-Authenticate" in response.headers
    events = await cloud.identity.store.read_all(after=before)
    failed = [e for e in events if e.type == "AuthenticationFailed"]
    assert len(failed) == 2
    assert all(b"wrong-password" not in e.data for e in events)


async def test_validate_check_and_revoke(cloud: Cloud) -> None:
    subject = await cloud.token("demo", await demo_password(cloud), "demo")
    headers = {"X-Auth-Token": cloud.admin_token, "X-Subject-Token": subject}
    response = await cloud.client.get("/identity/v3/auth/tokens", headers=headers)
    assert response.status == 200
    assert (await response.json())["token"]["user"]["name"] == "demo"
    response = await cloud.client.head("/identity/v3/auth/tokens", headers=headers)
    assert response.status == 200
    response = await cloud.client.delete("/identity/v3/auth/tokens", headers=headers)
    assert response.status == 204
    response = await cloud.client.get("/identity/v3/auth/tokens", headers=headers)
    assert response.status == 404
    # The revoked token itself no longer authenticates anything.
    status, _ = await cloud.call("GET", "/auth/projects", token=subject)
    assert status == 401


async def test_a_user_may_validate_only_its_own_tokens(cloud: Cloud) -> None:
    demo = await cloud.token("demo", await demo_password(cloud), "demo")
    headers = {"X-Auth-Token": demo, "X-Subject-Token": cloud.admin_token}
    response = await cloud.client.get("/identity/v3/auth/tokens", headers=headers)
    assert response.status == 403
    headers["X-Subject-Token"] = demo
    response = await cloud.client.get("/identity/v3/auth/tokens", headers=headers)
    assert response.status == 200


async def test_auth_projects_domains_system_and_catalog(cloud: Cloud) -> None:
    status, body = await cloud.call("GET", "/auth/projects")
    assert status == 200
    assert [p["name"] for p in body["projects"]] == ["admin"]
    status, body = await cloud.call("GET", "/auth/system")
    assert body["system"] == [{"all": True}]
    status, body = await cloud.call("GET", "/auth/domains")
    assert status == 200
    assert body["domains"] == []
    status, body = await cloud.call("GET", "/auth/catalog")
    assert status == 200
    assert any(s["type"] == "identity" for s in body["catalog"])


async def test_a_garbage_token_is_401(cloud: Cloud) -> None:
    for token in ("nonsense", "c1AAAA", "c1" + "A" * 300):
        status, body = await cloud.call("GET", "/projects", token=token)
        assert status == 401, token
        assert body["error"]["code"] == 401


async def test_malformed_auth_bodies_are_400(cloud: Cloud) -> None:
    for body in (b"{", b"[]", b'{"auth": {}}', b'{"auth": {"identity": {"methods": "x"}}}',
                 b'{"auth": {"identity": {"methods": ["password"]}}}'):  # fmt: skip
        response = await cloud.client.post(
            "/identity/v3/auth/tokens", data=body, headers={"Content-Type": "application/json"}
        )
        assert response.status == 400, body
        assert (await response.json())["error"]["code"] == 400


async def test_a_user_changes_its_own_password(cloud: Cloud) -> None:
    old = await demo_password(cloud)
    token = await cloud.token("demo", old, "demo")
    user_id = cloud.identity.validate(token).user_id
    body = {"user": {"original_password": "not-it", "password": "brand-new-pw"}}
    status, _ = await cloud.call("POST", f"/users/{user_id}/password", token=token, json=body)
    assert status == 401
    body["user"]["original_password"] = old
    status, _ = await cloud.call("POST", f"/users/{user_id}/password", token=token, json=body)
    assert status == 204
    # Tokens issued before the change are revoked; the new password works.
    status, _ = await cloud.call("GET", "/auth/projects", token=token)
    assert status == 401
    await cloud.token("demo", "brand-new-pw", "demo")


async def demo_password(cloud: Cloud) -> str:
    import yaml

    from cairn.api.identity import IDENTITY_CONFIG

    config = cloud.client.app[IDENTITY_CONFIG]  # type: ignore[index]
    clouds = yaml.safe_load(config.clouds_yaml.read_text())
    return str(clouds["clouds"]["cairn-demo"]["auth"]["password"])


async def test_an_expired_token_is_refused(cloud: Cloud) -> None:
    import asyncio

    cloud.identity.tokens.ttl = 0.2
    token = await cloud.token("admin", ADMIN_PASSWORD, "admin")
    assert (await cloud.call("GET", "/auth/projects", token=token))[0] == 200
    await asyncio.sleep(0.3)
    status, body = await cloud.call("GET", "/auth/projects", token=token)
    assert status == 401
    assert "expired" in body["error"]["message"]
