"""Who sees what: a project's members see only their project's events, admins
see all or narrow by project, and no secret is ever delivered."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from cairn.events import DomainEvent, Metadata, registry
from cairn.store import StreamWrite
from cairn.stream.redact import REDACTED
from tests.events_stream.conftest import GadgetMade, GadgetSecretSet, StreamCloud, StreamReader
from tests.events_stream.test_stream import TRANSPORTS, take
from tests.identity.test_isolation import setup_two_projects


async def everything(reader: StreamReader, upto: int) -> list[dict[str, Any]]:
    """Every event delivered until the subscriber has been served up to ``upto``."""
    got: list[dict[str, Any]] = []
    async with asyncio.timeout(10), reader.open() as messages:
        async for kind, body in messages:
            if kind == "event":
                got.append(body)
            if body["position"] >= upto:
                break
    return got


async def mixed_projects(cloud: StreamCloud, ids: dict[str, Any]) -> int:
    """Gadgets of red and blue (in the payload, the metadata, or both); the head."""
    red, blue = ids["red"]["project"], ids["blue"]["project"]
    await cloud.gadgets(3, project=red, writer="red")
    await cloud.gadgets(3, project=blue, writer="blue")
    await cloud.gadgets(1, project=None, writer="nobody")
    # red's resource, changed by an admin working in another project
    made = registry.new(GadgetMade(gadget_id="red-admin", project_id=red), Metadata(project_id="x"))
    await cloud.store.append(StreamWrite("gadget-red-admin", [made]))
    # blue's member acting: metadata only
    made = registry.new(GadgetMade(gadget_id="blue-meta"), Metadata(project_id=blue))
    result = await cloud.store.append(StreamWrite("gadget-blue-meta", [made]))
    return result.position


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_member_sees_only_its_projects_events(cloud: StreamCloud, transport: str) -> None:
    ids = await setup_two_projects(cloud)
    head = await mixed_projects(cloud, ids)
    red = ids["red"]["project"]
    reader = StreamReader(cloud, transport, token=ids["token"], **{"from": 0})
    got = await everything(reader, head - 1)
    assert got, "the member saw nothing at all"
    assert all(red in e["project_ids"] for e in got)
    gadgets = [e["data"]["gadget_id"] for e in got if e["type"] == "GadgetMade"]
    assert gadgets == ["red-0", "red-1", "red-2", "red-admin"]
    # Asking for its own project is the same; asking for another's is refused.
    reader = StreamReader(cloud, transport, token=ids["token"], project=red, type="Gadget*",
                          **{"from": 0})  # fmt: skip
    assert [e["data"]["gadget_id"] for e in await take(reader, 4)] == gadgets
    for project in (ids["blue"]["project"], "no-such-project"):
        response = await cloud.client.get(
            "/events/v1/stream", params={"project": project}, headers={"X-Auth-Token": ids["token"]}
        )
        assert response.status == 403


async def test_an_admin_sees_all_or_narrows_by_project(cloud: StreamCloud) -> None:
    ids = await setup_two_projects(cloud)
    await mixed_projects(cloud, ids)
    blue = ids["blue"]["project"]
    everyone = await take(StreamReader(cloud, "ws", type="GadgetMade", **{"from": 0}), 9)
    assert len({e["data"]["gadget_id"] for e in everyone}) == 9
    narrowed = await take(StreamReader(cloud, "ws", project=blue, type="Gadget*", **{"from": 0}), 4)
    assert [e["data"]["gadget_id"] for e in narrowed] == ["blue-0", "blue-1", "blue-2", "blue-meta"]


async def test_an_unscoped_non_admin_is_refused_and_the_refusal_recorded(
    cloud: StreamCloud,
) -> None:
    await setup_two_projects(cloud)
    unscoped = await cloud.token("red-user", "red-pw-1")
    response = await cloud.client.get("/events/v1/stream", headers={"X-Auth-Token": unscoped})
    assert response.status == 403
    denied = [e for e in await cloud.store.read_all(limit=10_000) if e.type == "PolicyDenied"]
    assert json.loads(denied[-1].data)["rule"] == "events:read_all"


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_no_secret_is_ever_delivered(cloud: StreamCloud, transport: str) -> None:
    # Identity events holding hashes and sealed blobs: a user with a password, a
    # password change, an application credential, an EC2 credential.
    ids = await setup_two_projects(cloud)
    user = ids["red"]["user"]
    red_token = await cloud.token("red-user", "red-pw-1", "red")
    status, _ = await cloud.call(
        "POST", f"/users/{user}/password", token=red_token,
        json={"user": {"password": "red-pw-2", "original_password": "red-pw-1"}},
    )  # fmt: skip
    assert status == 204
    red_token = await cloud.token("red-user", "red-pw-2", "red")
    status, body = await cloud.call(
        "POST", f"/users/{user}/application_credentials", token=red_token,
        json={"application_credential": {"name": "ci"}},
    )  # fmt: skip
    assert status == 201
    secret = body["application_credential"]["secret"]
    blob = json.dumps({"access": "AKIA-red", "secret": "ec2-very-secret"})
    status, _ = await cloud.call(
        "POST", "/credentials",
        json={"credential": {"user_id": user, "type": "ec2", "blob": blob,
                             "project_id": ids["red"]["project"]}},
    )  # fmt: skip
    assert status == 201
    # And a service's event that names its secrets only by field name.
    other = GadgetSecretSet(gadget_id="g", admin_pass="hunter2", nested={"db_password": "pw9"})
    head = (await cloud.store.append(StreamWrite("gadget-g", [registry.new(other)]))).position

    got = await everything(StreamReader(cloud, transport, **{"from": 0}), head)
    raw = json.dumps(got)
    for needle in ("$2b$", "hunter2", "pw9", "ec2-very-secret", secret, "red-pw"):
        assert needle not in raw
    by_type = {e["type"]: e["data"] for e in got}
    assert by_type["UserCreated"]["password_hash"] == REDACTED
    assert by_type["UserPasswordChanged"]["password_hash"] == REDACTED
    assert by_type["ApplicationCredentialCreated"]["secret_hash"] == REDACTED
    assert by_type["CredentialCreated"]["sealed_blob"] == REDACTED
    assert by_type["GadgetSecretSet"] == {
        "gadget_id": "g", "admin_pass": REDACTED, "nested": {"db_password": REDACTED},
    }  # fmt: skip


@registry.event
class PictureMade(DomainEvent, frozen=True):
    """An image-like event: Glance names the image's project ``owner``."""

    gadget_id: str
    owner: str | None = None


async def test_an_admins_act_on_another_projects_resource_goes_to_that_project_only(
    cloud: StreamCloud,
) -> None:
    """An admin scoped to blue changes red's gadget and creates an image owned
    by red: red's members see both (stream and history), blue's see neither."""
    ids = await setup_two_projects(cloud)
    red, blue = ids["red"]["project"], ids["blue"]["project"]
    blue_token = await cloud.token("blue-user", "blue-pw-1", "blue")
    admin_in_blue = Metadata(user_id="admin", project_id=blue)
    made = registry.new(GadgetMade(gadget_id="red-g", project_id=red), admin_in_blue)
    await cloud.store.append(StreamWrite("gadget-red-g", [made]))
    image = registry.new(PictureMade(gadget_id="red-image", owner=red), admin_in_blue)
    await cloud.store.append(StreamWrite("image-red-image", [image]))
    # an end mark each reader receives, so that it knows it has seen all
    end = registry.new(GadgetMade(gadget_id="end", project_id=red), Metadata(project_id=blue))
    end_blue = registry.new(GadgetMade(gadget_id="end", project_id=blue), Metadata(project_id=red))
    await cloud.store.append(StreamWrite("gadget-end", [end]))
    result = await cloud.store.append(StreamWrite("gadget-end-blue", [end_blue]))

    red_got = await everything(StreamReader(cloud, "ws", token=ids["token"], **{"from": 0}),
                               result.position - 1)  # fmt: skip
    assert [e["data"]["gadget_id"] for e in red_got[-3:]] == ["red-g", "red-image", "end"]
    assert all(e["project_ids"] == [red] for e in red_got[-3:])
    blue_got = await everything(StreamReader(cloud, "ws", token=blue_token, **{"from": 0}),
                                result.position - 1)  # fmt: skip
    mine = [e for e in blue_got if e["type"] in ("GadgetMade", "PictureMade")]
    assert [(e["data"]["gadget_id"], e["project_ids"]) for e in mine] == [("end", [blue])]
    for path in ("/resources/gadget/red-g/history", "/resources/image/red-image/history"):
        headers = {"X-Auth-Token": ids["token"]}
        response = await cloud.client.get("/events/v1" + path, headers=headers)
        assert response.status == 200
        assert len((await response.json())["events"]) == 1
        response = await cloud.client.get("/events/v1" + path, headers={"X-Auth-Token": blue_token})
        assert response.status == 404


async def test_a_history_shows_a_reader_only_its_projects_events(cloud: StreamCloud) -> None:
    """A stream whose later event names another project: red's reader of the
    history does not get blue's event."""
    ids = await setup_two_projects(cloud)
    red, blue = ids["red"]["project"], ids["blue"]["project"]
    events = [
        registry.new(GadgetMade(gadget_id="g", project_id=red), Metadata(project_id=red)),
        registry.new(GadgetMade(gadget_id="g", project_id=blue, size=7), Metadata(project_id=blue)),
        registry.new(GadgetMade(gadget_id="g", size=8), Metadata(project_id=blue)),
    ]
    await cloud.store.append(StreamWrite("gadget-g", events))
    response = await cloud.client.get(
        "/events/v1/resources/gadget/g/history", headers={"X-Auth-Token": ids["token"]}
    )
    assert response.status == 200
    assert [e["data"]["size"] for e in (await response.json())["events"]] == [0, 8]
