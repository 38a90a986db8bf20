"""The audit covers identity: ``check`` finds the identity read model a cloud
saved consistent with a rebuild from the log, and ``replay`` shows identity's
users, projects and assignments as of a past point."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient, TestServer

from cairn.api import RUNNER_OPTIONS
from cairn.api.identity import SERVICE as IDENTITY_SERVICE
from cairn.audit import check, replay
from cairn.projections.catalog import catalog
from cairn.runtime import build_app
from cairn.store import open_store
from tests.audit.test_cli import cairn
from tests.conftest import fresh_pg_database
from tests.identity.conftest import ADMIN_PASSWORD, Cloud, settings_for
from tests.identity.test_isolation import setup_two_projects


@asynccontextmanager
async def identity_cloud(data: Path, store: str | None) -> AsyncIterator[Cloud]:
    settings = settings_for(data, **({"store": store} if store else {}))
    server = TestServer(build_app(settings, services=[IDENTITY_SERVICE]))
    await server.start_server(**RUNNER_OPTIONS)
    client: TestClient[Any, Any] = TestClient(server)
    await client.start_server()
    try:
        made = Cloud(client, "")
        made.admin_token = await made.token("admin", ADMIN_PASSWORD, "admin")
        yield made
    finally:
        await client.close()  # the identity runner saves its snapshot


async def busy_identity(cloud: Cloud) -> dict[str, Any]:
    """Most kinds of identity events: projects, users, groups and members, roles
    and implications, grants, a password change, failed logins, deletions."""
    ids = await setup_two_projects(cloud)
    _, body = await cloud.call("POST", "/groups", json={"group": {"name": "ops"}})
    group = body["group"]["id"]
    for user in (ids["red"]["user"], ids["blue"]["user"]):
        assert (await cloud.call("PUT", f"/groups/{group}/users/{user}"))[0] == 204
    assert (await cloud.call("DELETE", f"/groups/{group}/users/{ids['blue']['user']}"))[0] == 204
    _, body = await cloud.call("POST", "/roles", json={"role": {"name": "auditor"}})
    auditor = body["role"]["id"]
    _, body = await cloud.call("GET", "/roles?name=reader")
    reader = body["roles"][0]["id"]
    assert (await cloud.call("PUT", f"/roles/{auditor}/implies/{reader}"))[0] == 201
    red = ids["red"]["project"]
    path = f"/projects/{red}/groups/{group}/roles/{auditor}"
    assert (await cloud.call("PUT", path))[0] == 204
    wrong = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "blue-user", "domain": {"id": "default"}, "password": "wrong"}}}}}  # fmt: skip
    for _ in range(2):
        response = await cloud.client.post("/identity/v3/auth/tokens", json=wrong)
        assert response.status == 401
    assert (await cloud.call("DELETE", f"/users/{ids['blue']['user']}"))[0] == 204
    return ids


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
async def test_check_and_replay_cover_identity(tmp_path: Path, kind: str) -> None:
    async with fresh_pg_database() if kind == "postgresql" else _none() as dsn:
        async with identity_cloud(tmp_path, dsn) as cloud:
            ids = await busy_identity(cloud)
            before_delete = await cloud.identity.store.head() - 1
        url = dsn or f"sqlite:///{tmp_path / 'data' / 'cairn.sqlite'}"
        async with await open_store(url) as store:
            results = {r.projection: r for r in await check(store, catalog.projections(catalog))}
            assert results["identity"].status == "consistent", results["identity"].differences
            assert results["identity"].position == await store.head()
            users = catalog.get("users")
            replayed = await replay(store, catalog.projections([users]), upto=before_delete)
            rows = users.rows(replayed.states["identity"], None)
            names = {row["name"] for row in rows}
            assert {"admin", "red-user", "blue-user"} <= names
            blue = next(row for row in rows if row["name"] == "blue-user")
            assert blue["failed_logins"] == 2
            assert all(set(row) == set(users.columns) for row in rows)
            on_red = users.rows(replayed.states["identity"], ids["red"]["project"])
            assert [row["name"] for row in on_red] == ["red-user"]
        flags = ["--store", url]
        shown = cairn("audit", "replay", "--at", str(before_delete), "users", "assignments", *flags)
        assert shown.status == 0, shown.err
        assert "blue-user" in shown.out
        assert "$2b$" not in shown.out
        checked = cairn("audit", "check", *flags)
        assert checked.status == 0, checked.out


@asynccontextmanager
async def _none() -> AsyncIterator[None]:
    yield None


async def test_replay_at_a_past_time_matches_the_apis_answers_then(tmp_path: Path) -> None:
    """Take the API's answers, note the time, change everything, then replay
    the log as of that time: the same users and projects, in the same state."""
    async with identity_cloud(tmp_path, None) as cloud:
        ids = await busy_identity(cloud)
        _, users = await cloud.call("GET", "/users")
        _, projects = await cloud.call("GET", "/projects")
        await asyncio.sleep(0.01)
        moment = datetime.now(UTC)
        await asyncio.sleep(0.01)
        red = ids["red"]["project"]
        assert (await cloud.call("DELETE", f"/users/{ids['red']['user']}"))[0] == 204
        body = {"project": {"enabled": False, "description": "later"}}
        assert (await cloud.call("PATCH", f"/projects/{red}", json=body))[0] == 200
        body = {"user": {"name": "newcomer", "password": "pw-newcomer"}}
        assert (await cloud.call("POST", "/users", json=body))[0] == 201
    url = f"sqlite:///{tmp_path / 'data' / 'cairn.sqlite'}"
    shown = cairn("audit", "replay", "--at", moment.isoformat(), "users", "projects",
                  "--store", url, "--format", "json")  # fmt: skip
    assert shown.status == 0, shown.err
    replayed = shown.json()
    assert isinstance(replayed, dict)
    api_users = {(u["id"], u["name"], u["enabled"]) for u in users["users"]}
    assert {(u["id"], u["name"], u["enabled"]) for u in replayed["users"]} == api_users
    api_projects = {(p["id"], p["name"], p["enabled"]) for p in projects["projects"]}
    assert {(p["id"], p["name"], p["enabled"]) for p in replayed["projects"]} == api_projects
