"""What the in-process clouds of several services' tests share: a caller, and
the identity calls that make one (a token, an admin's request, a new member)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from aiohttp.test_utils import TestClient


@dataclass
class Caller:
    token: str
    project_id: str
    user_id: str


class IdentityCalls:
    """Mixed into a test cloud that has ``client`` (aiohttp's test client) and
    ``admin`` (a :class:`Caller`)."""

    client: TestClient[Any, Any]
    admin: Caller

    async def token(self, user: str, password: str, project: str) -> str:
        body = {
            "auth": {
                "identity": {
                    "methods": ["password"],
                    "password": {
                        "user": {"name": user, "domain": {"id": "default"}, "password": password}
                    },
                },
                "scope": {"project": {"name": project, "domain": {"id": "default"}}},
            }
        }
        response = await self.client.post("/identity/v3/auth/tokens", json=body)
        assert response.status == 201, await response.text()
        return response.headers["X-Subject-Token"]

    async def identity(self, method: str, path: str, json: Any = None) -> Any:
        response = await self.client.request(
            method, "/identity/v3" + path, json=json, headers={"X-Auth-Token": self.admin.token}
        )
        assert response.status < 300, await response.text()
        return await response.json() if response.status != 204 else None

    async def member(self, project: str | None = None, role: str = "member") -> Caller:
        """A new user with ``role`` on a new project (or on ``project``)."""
        suffix = uuid.uuid4().hex[:8]
        if project is None:
            made = await self.identity("POST", "/projects", {"project": {"name": f"p-{suffix}"}})
            project_id, project_name = made["project"]["id"], made["project"]["name"]
        else:
            found = await self.identity("GET", f"/projects/{project}")
            project_id, project_name = project, found["project"]["name"]
        user = await self.identity(
            "POST", "/users", {"user": {"name": f"u-{suffix}", "password": "pw-" + suffix}}
        )
        user_id = user["user"]["id"]
        roles = await self.identity("GET", f"/roles?name={role}")
        role_id = roles["roles"][0]["id"]
        await self.identity("PUT", f"/projects/{project_id}/users/{user_id}/roles/{role_id}")
        token = await self.token(f"u-{suffix}", "pw-" + suffix, project_name)
        return Caller(token, project_id, user_id)
