"""``/v3/credentials``: sealed in the log, visible to the owner and admins only;
``/v3/policies``: blobs for admins."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from cairn.keyring import KeyRepository
from cairn.sealing import CannotOpen, Sealer
from tests.identity.conftest import Cloud
from tests.identity.test_isolation import setup_two_projects

SECRET_BLOB = json.dumps({"access": "AKIA-red", "secret": "very-secret-value"})


async def test_an_owner_keeps_a_credential_others_cannot_see(cloud: Cloud) -> None:
    ids = await setup_two_projects(cloud)
    red = ids["token"]
    body = {"credential": {"type": "ec2", "blob": SECRET_BLOB, "project_id": ids["red"]["project"]}}
    status, made = await cloud.call("POST", "/credentials", token=red, json=body)
    assert status == 201, made
    cred = made["credential"]
    assert cred["user_id"] == ids["red"]["user"]
    assert cred["blob"] == SECRET_BLOB
    # The secret is sealed in the log.
    events = await cloud.identity.store.read_all(after=0, limit=10_000)
    assert all(b"very-secret-value" not in e.data for e in events)

    blue = await cloud.token("blue-user", "blue-pw-1", "blue")
    head = await cloud.identity.store.head()
    for method, payload in (("GET", None), ("PATCH", {"credential": {"blob": "{}"}}),
                            ("DELETE", None)):  # fmt: skip
        status, _ = await cloud.call(method, f"/credentials/{cred['id']}", token=blue, json=payload)
        assert status in (403, 404)
    status, _ = await cloud.call(
        "POST", "/credentials", token=blue,
        json={"credential": {"type": "ec2", "blob": "{}", "user_id": ids["red"]["user"]}},
    )  # fmt: skip
    assert status == 403
    assert {e.type for e in await cloud.identity.store.read_all(after=head)} == {"PolicyDenied"}
    status, listed = await cloud.call("GET", "/credentials", token=blue)
    assert status == 200
    assert listed["credentials"] == []
    # The owner and the admin see it.
    _, listed = await cloud.call("GET", "/credentials", token=red)
    assert [c["id"] for c in listed["credentials"]] == [cred["id"]]
    _, listed = await cloud.call("GET", f"/credentials?user_id={ids['red']['user']}")
    assert [c["blob"] for c in listed["credentials"]] == [SECRET_BLOB]
    status, changed = await cloud.call(
        "PATCH", f"/credentials/{cred['id']}", token=red, json={"credential": {"blob": "{}"}}
    )
    assert status == 200
    assert changed["credential"]["blob"] == "{}"
    assert (await cloud.call("DELETE", f"/credentials/{cred['id']}", token=red))[0] == 204
    assert (await cloud.call("GET", f"/credentials/{cred['id']}"))[0] == 404


@pytest.mark.parametrize(
    "body",
    [b'{"credential": {"type": "ec2"}}', b'{"credential": {"blob": "", "type": "ec2"}}',
     b'{"credential": {"blob": 5, "type": "ec2"}}', b'{"credential": {"blob": "x", "type": "ec2",'
     b' "project_id": "nope"}}'],
)  # fmt: skip
async def test_malformed_credentials_are_refused_and_change_nothing(
    cloud: Cloud, body: bytes
) -> None:
    head = await cloud.identity.store.head()
    response = await cloud.client.post(
        "/identity/v3/credentials", data=body,
        headers={"X-Auth-Token": cloud.admin_token, "Content-Type": "application/json"},
    )  # fmt: skip
    assert response.status in (400, 404)
    assert await cloud.identity.store.head() == head


async def test_policies_are_blobs_for_admins(cloud: Cloud) -> None:
    body = {"policy": {"type": "application/json", "blob": '{"default": ""}'}}
    status, made = await cloud.call("POST", "/policies", json=body)
    assert status == 201
    policy_id = made["policy"]["id"]
    _, listed = await cloud.call("GET", "/policies")
    assert [p["id"] for p in listed["policies"]] == [policy_id]
    demo = await cloud.token("demo", await _demo_password(cloud), "demo")
    assert (await cloud.call("GET", "/policies", token=demo))[0] == 403
    assert (await cloud.call("DELETE", f"/policies/{policy_id}"))[0] == 204


def test_a_sealed_blob_opens_only_with_its_keys(tmp_path: Path) -> None:
    sealer = Sealer(KeyRepository(tmp_path / "a").ensure())
    other = Sealer(KeyRepository(tmp_path / "b").ensure())
    sealed = sealer.seal("secret")
    assert "secret" not in sealed
    assert sealer.open(sealed) == "secret"
    for bad in (sealed[:-4] + "AAAA", "s1!!", "plain"):
        with pytest.raises(CannotOpen):
            sealer.open(bad)
    with pytest.raises(CannotOpen):
        other.open(sealed)


async def _demo_password(cloud: Cloud) -> str:
    from tests.identity.test_api_tokens import demo_password

    return await demo_password(cloud)
