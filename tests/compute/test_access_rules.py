"""Application-credential access rules bind on compute's routes too (the token
middleware every service mounts checks them), not only on identity's."""

from __future__ import annotations

from typing import Any

from tests.cloud_api import Caller
from tests.compute.conftest import ComputeCloud


async def _limited(cloud: ComputeCloud, user: Caller, rules: list[dict[str, str]]) -> Caller:
    body = {"application_credential": {"name": "limited", "access_rules": rules}}
    response = await cloud.client.post(
        f"/identity/v3/users/{user.user_id}/application_credentials",
        json=body,
        headers={"X-Auth-Token": user.token},
    )
    assert response.status == 201, await response.text()
    cred = (await response.json())["application_credential"]
    auth: dict[str, Any] = {"auth": {"identity": {"methods": ["application_credential"]}}}
    auth["auth"]["identity"]["application_credential"] = {
        "id": cred["id"],
        "secret": cred["secret"],
    }
    response = await cloud.client.post("/identity/v3/auth/tokens", json=auth)
    assert response.status == 201, await response.text()
    return Caller(response.headers["X-Subject-Token"], user.project_id, user.user_id)


async def test_a_credential_limited_to_listing_servers_may_do_only_that(
    cloud: ComputeCloud,
) -> None:
    user = await cloud.member()
    rules = [{"service": "compute", "method": "GET", "path": "/v2.1/servers"}]
    limited = await _limited(cloud, user, rules)
    status, body = await cloud.call("GET", "/servers", limited)
    assert status == 200, body
    status, _ = await cloud.call("GET", "/flavors", limited)
    assert status == 401
    status, _ = await cloud.boot(limited)
    assert status == 401


async def test_an_identity_rule_gives_nothing_on_compute(cloud: ComputeCloud) -> None:
    user = await cloud.member()
    rules = [{"service": "identity", "method": "GET", "path": "/v2.1/servers"}]
    limited = await _limited(cloud, user, rules)
    status, _ = await cloud.call("GET", "/servers", limited)
    assert status == 401
