"""A refusal by policy is audited the same way by every service: one step
(cairn.api.identity.auth.deny) records the PolicyDenied event and answers 403."""

from __future__ import annotations

import msgspec
from tests.compute.conftest import ComputeCloud

from cairn.api.compute import auth as compute_auth
from cairn.api.events import access as events_access
from cairn.api.identity import auth as identity_auth
from cairn.events import identity as iev


def test_identity_compute_and_events_share_the_one_deny_step() -> None:
    assert compute_auth.deny is identity_auth.deny
    assert events_access.deny is identity_auth.deny


async def test_a_compute_refusal_is_a_403_and_an_audit_event(cloud: ComputeCloud) -> None:
    user = await cloud.member()
    status, body = await cloud.call("GET", "/os-hypervisors", user)
    assert status == 403, body
    assert body["forbidden"]["message"] == (
        "Policy doesn't allow os_compute_api:os-hypervisors:list to be performed."
    )
    events = await cloud.store.read_all(after=0, limit=100_000)
    [denied] = [
        msgspec.json.decode(e.data, type=iev.PolicyDenied)
        for e in events
        if e.type == "PolicyDenied"
    ]
    assert denied.rule == "os_compute_api:os-hypervisors:list"
    assert (denied.user_id, denied.project_id) == (user.user_id, user.project_id)
    assert denied.path == "/compute/v2.1/os-hypervisors"
