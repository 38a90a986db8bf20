"""Application credentials (create, log in, list, delete) and failed-login lockout."""

from __future__ import annotations

from typing import Any

from tests.identity.conftest import ADMIN_PASSWORD, Cloud


def app_cred_auth(cred_id: str, secret: str) -> dict[str, Any]:
    return {
        "auth": {
            "identity": {
                "methods": ["application_credential"],
                "application_credential": {"id": cred_id, "secret": secret},
            }
        }
    }


async def test_an_application_credential_logs_in_with_its_roles_only(cloud: Cloud) -> None:
    who = cloud.identity.validate(cloud.admin_token)
    path = f"/users/{who.user_id}/application_credentials"
    body = {"application_credential": {"name": "ci", "roles": [{"name": "reader"}]}}
    status, made = await cloud.call("POST", path, json=body)
    assert status == 201, made
    cred = made["application_credential"]
    assert cred["project_id"] == who.project_id
    assert [r["name"] for r in cred["roles"]] == ["reader"]
    secret = cred["secret"]
    # The secret is shown once, and never stored or recorded.
    events = await cloud.identity.store.read_all(after=0, limit=10_000)
    assert all(secret.encode() not in e.data for e in events)
    status, listed = await cloud.call("GET", path)
    assert "secret" not in listed["application_credentials"][0]

    response = await cloud.client.post(
        "/identity/v3/auth/tokens", json=app_cred_auth(cred["id"], secret)
    )
    assert response.status == 201
    token = (await response.json())["token"]
    assert token["methods"] == ["application_credential"]
    assert [r["name"] for r in token["roles"]] == ["reader"]
    subject = response.headers["X-Subject-Token"]
    # A reader cannot create a project, though the user behind it could.
    status, _ = await cloud.call(
        "POST", "/projects", token=subject, json={"project": {"name": "x"}}
    )
    assert status == 403

    response = await cloud.client.post(
        "/identity/v3/auth/tokens", json=app_cred_auth(cred["id"], "wrong")
    )
    assert response.status == 401
    assert (await cloud.call("DELETE", f"{path}/{cred['id']}"))[0] == 204
    assert (await cloud.call("GET", "/auth/projects", token=subject))[0] == 401
    response = await cloud.client.post(
        "/identity/v3/auth/tokens", json=app_cred_auth(cred["id"], secret)
    )
    assert response.status == 401


async def test_roles_the_user_lacks_cannot_be_delegated(cloud: Cloud) -> None:
    who = cloud.identity.validate(cloud.admin_token)
    status, _ = await cloud.call("POST", "/roles", json={"role": {"name": "auditor"}})
    assert status == 201
    body = {"application_credential": {"name": "too-much", "roles": [{"name": "auditor"}]}}
    head = await cloud.identity.store.head()
    status, _ = await cloud.call("POST", f"/users/{who.user_id}/application_credentials", json=body)
    assert status == 403
    assert await cloud.identity.store.head() == head


async def test_repeated_failures_lock_the_account(cloud: Cloud) -> None:
    await cloud.call("POST", "/users", json={"user": {"name": "eve", "password": "eve-pw-123"}})
    wrong = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "eve", "domain": {"id": "default"}, "password": "guess"}}}}}  # fmt: skip
    for _ in range(3):
        response = await cloud.client.post("/identity/v3/auth/tokens", json=wrong)
        assert response.status == 401
    right = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "eve", "domain": {"id": "default"}, "password": "eve-pw-123"}}}}}  # fmt: skip
    response = await cloud.client.post("/identity/v3/auth/tokens", json=right)
    assert response.status == 401  # locked, though the password is right
    events = await cloud.identity.store.read_all(after=0, limit=10_000)
    reasons = [e.data for e in events if e.type == "AuthenticationFailed"]
    assert b"account locked" in reasons[-1]
    # Others are not affected.
    await cloud.token("admin", ADMIN_PASSWORD, "admin")


async def test_access_rules_limit_what_an_application_credential_may_do(cloud: Cloud) -> None:
    _, users = await cloud.call("GET", "/users?name=admin")
    admin_id = users["users"][0]["id"]
    rules = [{"service": "identity", "method": "GET", "path": "/v3/users/*"},
             {"service": "identity", "method": "GET", "path": "/v3/users/*"}]  # fmt: skip
    body = {"application_credential": {"name": "limited", "access_rules": rules}}
    status, made = await cloud.call("POST", f"/users/{admin_id}/application_credentials", json=body)
    assert status == 201, made
    cred = made["application_credential"]
    assert len(cred["access_rules"]) == 1  # the same rule, once
    rule = cred["access_rules"][0]
    assert {k: rule[k] for k in ("service", "method", "path")} == rules[0]
    auth = {"auth": {"identity": {"methods": ["application_credential"], "application_credential": {
        "id": cred["id"], "secret": cred["secret"]}}}}  # fmt: skip
    response = await cloud.client.post("/identity/v3/auth/tokens", json=auth)
    assert response.status == 201
    token = response.headers["X-Subject-Token"]
    status, _ = await cloud.call("GET", f"/users/{admin_id}", token=token)
    assert status == 200
    status, _ = await cloud.call("GET", "/projects", token=token)
    assert status == 401  # no rule allows it
    status, _ = await cloud.call("GET", f"/users/{admin_id}/projects", token=token)
    assert status == 401  # "*" is one segment
    _, listed = await cloud.call("GET", f"/users/{admin_id}/access_rules")
    assert [r["id"] for r in listed["access_rules"]] == [rule["id"]]
    _, shown = await cloud.call("GET", f"/users/{admin_id}/access_rules/{rule['id']}")
    assert shown["access_rule"]["path"] == "/v3/users/*"
    status, _ = await cloud.call("DELETE", f"/users/{admin_id}/access_rules/{rule['id']}")
    assert status == 403  # in use
    await cloud.call("DELETE", f"/users/{admin_id}/application_credentials/{cred['id']}")
    status, _ = await cloud.call("DELETE", f"/users/{admin_id}/access_rules/{rule['id']}")
    assert status == 204
    bad = {"application_credential": {"name": "bad", "access_rules": [{"service": "identity"}]}}
    status, _ = await cloud.call("POST", f"/users/{admin_id}/application_credentials", json=bad)
    assert status == 400
