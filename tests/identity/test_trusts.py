"""OS-TRUST: trusts, and the trust-scoped tokens a trustee gets from them."""

from __future__ import annotations

from typing import Any

from tests.identity.conftest import Cloud

TRUSTS = "/OS-TRUST/trusts"


async def made(cloud: Cloud, kind: str, body: dict[str, Any]) -> Any:
    status, answer = await cloud.call("POST", f"/{kind}s", json={kind: body})
    assert status == 201, answer
    return answer[kind]


async def setup(cloud: Cloud) -> dict[str, Any]:
    project = await made(cloud, "project", {"name": "trusted"})
    trustor = await made(cloud, "user", {"name": "trustor", "password": "trustor-pw1"})
    trustee = await made(cloud, "user", {"name": "trustee", "password": "trustee-pw1"})
    given = await made(cloud, "role", {"name": "given"})
    kept = await made(cloud, "role", {"name": "kept"})
    for role in (given, kept):
        put = f"/projects/{project['id']}/users/{trustor['id']}/roles/{role['id']}"
        assert (await cloud.call("PUT", put))[0] == 204
    return {
        "project": project, "trustor": trustor, "trustee": trustee, "given": given, "kept": kept,
        "trustor_token": await cloud.token("trustor", "trustor-pw1", "trusted"),
        "trustee_token": await cloud.token("trustee", "trustee-pw1"),
    }  # fmt: skip


def trust_body(w: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"trust": {"trustor_user_id": w["trustor"]["id"], "trustee_user_id": w["trustee"]["id"],
                      "project_id": w["project"]["id"], "roles": [{"name": "given"}],
                      "impersonation": True, **extra}}  # fmt: skip


async def trust_token(cloud: Cloud, w: dict[str, Any], trust_id: str) -> tuple[int, Any]:
    body = {"auth": {"identity": {"methods": ["token"], "token": {"id": w["trustee_token"]}},
                     "scope": {"OS-TRUST:trust": {"id": trust_id}}}}  # fmt: skip
    response = await cloud.client.post("/identity/v3/auth/tokens", json=body)
    return response.status, await response.json()


async def test_a_trust_delegates_its_roles_and_impersonates(cloud: Cloud) -> None:
    w = await setup(cloud)
    status, body = await cloud.call("POST", TRUSTS, token=w["trustor_token"], json=trust_body(w))
    assert status == 201, body
    trust = body["trust"]
    assert [r["name"] for r in trust["roles"]] == ["given"]
    response = await cloud.client.post("/identity/v3/auth/tokens", json={"auth": {
        "identity": {"methods": ["token"], "token": {"id": w["trustee_token"]}},
        "scope": {"OS-TRUST:trust": {"id": trust["id"]}}}})  # fmt: skip
    assert response.status == 201
    issued_id = response.headers["X-Subject-Token"]
    t = (await response.json())["token"]
    assert t["user"]["id"] == w["trustor"]["id"]  # impersonation
    assert [r["name"] for r in t["roles"]] == ["given"]
    assert t["OS-TRUST:trust"]["trustee_user"]["id"] == w["trustee"]["id"]
    _, roles = await cloud.call("GET", f"{TRUSTS}/{trust['id']}/roles", token=w["trustor_token"])
    assert [r["id"] for r in roles["roles"]] == [w["given"]["id"]]
    kept = f"{TRUSTS}/{trust['id']}/roles/{w['kept']['id']}"
    assert (await cloud.call("GET", kept, token=w["trustor_token"]))[0] == 404
    # the trustee sees it; others do not
    assert (await cloud.call("GET", f"{TRUSTS}/{trust['id']}", token=w["trustee_token"]))[0] == 200
    await made(cloud, "user", {"name": "stranger", "password": "stranger-pw"})
    other = await cloud.token("stranger", "stranger-pw")
    assert (await cloud.call("GET", f"{TRUSTS}/{trust['id']}", token=other))[0] == 404
    assert (await cloud.call("GET", TRUSTS, token=other))[0] == 403
    query = f"{TRUSTS}/?trustor_user_id={w['trustor']['id']}"  # with the slash clients send
    _, listed = await cloud.call("GET", query, token=w["trustor_token"])
    assert [x["id"] for x in listed["trusts"]] == [trust["id"]]
    assert (await cloud.call("GET", "/auth/projects", token=issued_id))[0] == 200
    # deleting it ends its tokens
    path = f"{TRUSTS}/{trust['id']}"
    assert (await cloud.call("DELETE", path, token=w["trustor_token"]))[0] == 204
    assert (await cloud.call("GET", "/auth/projects", token=issued_id))[0] == 401


async def test_without_impersonation_and_with_limits(cloud: Cloud) -> None:
    w = await setup(cloud)
    body = trust_body(w, impersonation=False, remaining_uses=1)
    _, made_trust = await cloud.call("POST", TRUSTS, token=w["trustor_token"], json=body)
    trust = made_trust["trust"]
    status, token = await trust_token(cloud, w, trust["id"])
    assert status == 201, token
    assert token["token"]["user"]["id"] == w["trustee"]["id"]
    assert token["token"]["project"]["id"] == w["project"]["id"]
    status, _ = await trust_token(cloud, w, trust["id"])
    assert status == 401  # its one use is spent
    # only the trustor makes a trust, only with roles it holds, never already expired
    status, _ = await cloud.call("POST", TRUSTS, token=w["trustee_token"], json=trust_body(w))
    assert status == 403
    for extra in ({"expires_at": "bad.123Z"}, {"expires_at": "2001-01-01T00:00:00Z"},
                  {"remaining_uses": 0}):  # fmt: skip
        status, _ = await cloud.call("POST", TRUSTS, token=w["trustor_token"],
                                     json=trust_body(w, **extra))  # fmt: skip
        assert status == 400, extra
    body = trust_body(w)
    body["trust"]["roles"] = [{"name": "admin"}]
    status, _ = await cloud.call("POST", TRUSTS, token=w["trustor_token"], json=body)
    assert status == 403


async def test_a_trust_token_ends_with_the_trustors_roles(cloud: Cloud) -> None:
    w = await setup(cloud)
    _, made_trust = await cloud.call("POST", TRUSTS, token=w["trustor_token"], json=trust_body(w))
    trust = made_trust["trust"]
    status, token = await trust_token(cloud, w, trust["id"])
    assert status == 201
    issued = token["token"]
    assert issued["expires_at"]
    revoke = f"/projects/{w['project']['id']}/users/{w['trustor']['id']}/roles/{w['given']['id']}"
    assert (await cloud.call("DELETE", revoke))[0] == 204
    status, _ = await trust_token(cloud, w, trust["id"])
    assert status == 401
