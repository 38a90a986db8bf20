"""A failed login costs the cloud one cheap write at most (src/cairn/identity/failures.py):
repeated failures of one (source, user) pair are counted into the next audit
event instead of each appending one, lockout still counts every attempt, and
no failure flushes the cached token validations of everyone else."""

from __future__ import annotations

from typing import Any

import msgspec

from cairn.events import identity as ev
from cairn.identity.failures import FailureAudit
from cairn.identity.service import AUDIT_STREAM
from tests.identity.conftest import ADMIN_PASSWORD, Cloud


def _login(user: str, password: str) -> dict[str, Any]:
    identity = {
        "methods": ["password"],
        "password": {"user": {"name": user, "domain": {"id": "default"}, "password": password}},
    }
    return {"auth": {"identity": identity}}


async def _failures(cloud: Cloud) -> list[ev.AuthenticationFailed]:
    events = await cloud.identity.store.read_all(after=0, limit=100_000)
    return [
        msgspec.json.decode(e.data, type=ev.AuthenticationFailed)
        for e in events
        if e.type == "AuthenticationFailed" and e.stream == AUDIT_STREAM
    ]


async def test_a_spray_of_failures_is_one_event_per_source_and_user(cloud: Cloud) -> None:
    clock = [1000.0]
    cloud.identity.failures = FailureAudit(window=60.0, clock=lambda: clock[0])
    for _ in range(25):
        response = await cloud.client.post("/identity/v3/auth/tokens", json=_login("ghost", "x"))
        assert response.status == 401
    [first] = await _failures(cloud)
    assert (first.user_name, first.reason, first.attempts) == ("ghost", "unknown user", 1)
    clock[0] += 61.0  # the next window: one event carries the 24 counted since
    response = await cloud.client.post("/identity/v3/auth/tokens", json=_login("ghost", "x"))
    assert response.status == 401
    assert [f.attempts for f in await _failures(cloud)] == [1, 25]
    # Another name is another pair: its first failure is written at once.
    await cloud.client.post("/identity/v3/auth/tokens", json=_login("phantom", "x"))
    assert [f.user_name for f in await _failures(cloud)] == ["ghost", "ghost", "phantom"]


async def test_lockout_still_counts_every_attempt(cloud: Cloud) -> None:
    # lockout_attempts=3 in this cloud: three wrong passwords lock the account
    for _ in range(3):
        response = await cloud.client.post(
            "/identity/v3/auth/tokens", json=_login("admin", "wrong")
        )
        assert response.status == 401
    response = await cloud.client.post(
        "/identity/v3/auth/tokens", json=_login("admin", ADMIN_PASSWORD)
    )
    assert response.status == 401  # locked
    assert [f.reason for f in await _failures(cloud)] == ["wrong password"] * 3 + ["account locked"]


async def test_a_failed_login_leaves_everyones_cached_validation_alone(cloud: Cloud) -> None:
    identity = cloud.identity
    made = []
    real = identity._validate

    def counting(token: str) -> Any:
        made.append(token)
        return real(token)

    identity._validate = counting  # type: ignore[method-assign]
    assert (await cloud.call("GET", "/auth/projects"))[0] == 200
    validations = len(made)
    for name in ("admin", "nobody"):
        response = await cloud.client.post("/identity/v3/auth/tokens", json=_login(name, "bad"))
        assert response.status == 401
    assert (await cloud.call("GET", "/auth/projects"))[0] == 200
    assert len(made) == validations  # answered from the cache, not validated again
