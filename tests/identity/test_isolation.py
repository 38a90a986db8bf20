"""A member of one project can neither read nor change another project's users,
assignments or credentials; readers read, members act, admins everywhere."""

from __future__ import annotations

from typing import Any

import pytest

from tests.identity.conftest import Cloud


async def setup_two_projects(cloud: Cloud) -> dict[str, Any]:
    made: dict[str, Any] = {}
    _, body = await cloud.call("GET", "/roles?name=member")
    member = body["roles"][0]["id"]
    for name in ("red", "blue"):
        _, body = await cloud.call("POST", "/projects", json={"project": {"name": name}})
        project = body["project"]["id"]
        _, body = await cloud.call(
            "POST", "/users", json={"user": {"name": f"{name}-user", "password": f"{name}-pw-1"}}
        )
        user = body["user"]["id"]
        status, _ = await cloud.call("PUT", f"/projects/{project}/users/{user}/roles/{member}")
        assert status == 204
        made[name] = {"project": project, "user": user}
    made["member_role"] = member
    made["token"] = await cloud.token("red-user", "red-pw-1", "red")
    return made


async def test_a_member_reads_its_own_project_only(cloud: Cloud) -> None:
    ids = await setup_two_projects(cloud)
    token = ids["token"]
    assert (await cloud.call("GET", f"/projects/{ids['red']['project']}", token=token))[0] == 200
    assert (await cloud.call("GET", f"/users/{ids['red']['user']}", token=token))[0] == 200
    for path in (
        f"/projects/{ids['blue']['project']}",
        f"/users/{ids['blue']['user']}",
        f"/users/{ids['blue']['user']}/projects",
        "/users",
        "/projects",
        f"/role_assignments?scope.project.id={ids['blue']['project']}",
        f"/role_assignments?user.id={ids['blue']['user']}",
        f"/projects/{ids['blue']['project']}/users/{ids['blue']['user']}/roles",
    ):
        status, body = await cloud.call("GET", path, token=token)
        assert status in (403, 404), path
        assert body["error"]["code"] == status


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("PATCH", "/projects/{blue_project}", {"project": {"name": "mine"}}),
        ("DELETE", "/projects/{blue_project}", None),
        ("PATCH", "/users/{blue_user}", {"user": {"enabled": False}}),
        ("DELETE", "/users/{blue_user}", None),
        ("POST", "/users/{blue_user}/password", {"user": {"original_password": "blue-pw-1",
                                                          "password": "stolen-pw"}}),
        ("PUT", "/projects/{blue_project}/users/{red_user}/roles/{member}", None),
        ("DELETE", "/projects/{blue_project}/users/{blue_user}/roles/{member}", None),
        ("PUT", "/projects/{red_project}/users/{blue_user}/roles/{member}", None),
        ("POST", "/users", {"user": {"name": "sneaky"}}),
        ("POST", "/projects", {"project": {"name": "sneaky"}}),
        ("POST", "/roles", {"role": {"name": "sneaky"}}),
    ],
)  # fmt: skip
async def test_a_member_changes_nothing_elsewhere(
    cloud: Cloud, method: str, path: str, body: Any
) -> None:
    ids = await setup_two_projects(cloud)
    path = path.format(
        blue_project=ids["blue"]["project"], blue_user=ids["blue"]["user"],
        red_project=ids["red"]["project"], red_user=ids["red"]["user"], member=ids["member_role"],
    )  # fmt: skip
    head = await cloud.identity.store.head()
    status, answer = await cloud.call(method, path, token=ids["token"], json=body)
    assert status in (403, 404), (status, answer)
    # Nothing changed: the only event is the audit record of the denial.
    events = await cloud.identity.store.read_all(after=head)
    assert [e.type for e in events] == ["PolicyDenied"]


async def test_a_token_of_another_user_cannot_be_validated_or_revoked(cloud: Cloud) -> None:
    ids = await setup_two_projects(cloud)
    blue = await cloud.token("blue-user", "blue-pw-1", "blue")
    headers = {"X-Auth-Token": ids["token"], "X-Subject-Token": blue}
    for method in ("GET", "DELETE"):
        response = await cloud.client.request(method, "/identity/v3/auth/tokens", headers=headers)
        assert response.status == 403
    assert cloud.identity.validate(blue).user_id == ids["blue"]["user"]
