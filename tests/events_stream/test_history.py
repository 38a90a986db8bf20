"""``GET /events/v1/resources/{kind}/{id}/history``: what, when, who, for the
resource's own project and admins only."""

from __future__ import annotations

from typing import Any

import pytest

from cairn.events import Metadata, registry
from cairn.store import StreamWrite
from cairn.stream.redact import REDACTED
from tests.events_stream.conftest import GadgetMade, StreamCloud
from tests.identity.test_isolation import setup_two_projects


async def get(cloud: StreamCloud, path: str, token: str | None = None, **query: Any) -> Any:
    response = await cloud.client.get(
        "/events/v1" + path, params=query, headers={"X-Auth-Token": token or cloud.admin_token}
    )
    return response.status, await response.json()


async def test_history_of_a_resource_says_what_when_and_who(cloud: StreamCloud) -> None:
    ids = await setup_two_projects(cloud)
    red = ids["red"]["project"]
    for i, user in enumerate(("u1", "u2", "u3")):
        meta = Metadata(request_id=f"req-{i}", user_id=user, project_id=red)
        event = GadgetMade(gadget_id="g1", project_id=red, size=i)
        await cloud.store.append(StreamWrite("gadget-g1", [registry.new(event, meta)]))

    status, body = await get(cloud, "/resources/gadget/g1/history", token=ids["token"])
    assert status == 200
    assert body["resource"] == {
        "kind": "gadget", "id": "g1", "stream": "gadget-g1", "project_ids": [red],
    }  # fmt: skip
    assert [e["data"]["size"] for e in body["events"]] == [0, 1, 2]
    assert [e["version"] for e in body["events"]] == [1, 2, 3]
    first = body["events"][0]
    assert first["type"] == "GadgetMade"
    assert first["recorded_at"].endswith("Z")
    assert first["metadata"] == {"request_id": "req-0", "user_id": "u1", "project_id": red}
    assert body["links"] == []

    # Paged: limit and marker, with a next link while more remain.
    status, page = await get(cloud, "/resources/gadget/g1/history", limit=2)
    assert [e["version"] for e in page["events"]] == [1, 2]
    assert "marker=2" in page["links"][0]["href"]
    status, page = await get(cloud, "/resources/gadget/g1/history", limit=2, marker=2)
    assert [e["version"] for e in page["events"]] == [3]
    assert page["links"] == []


async def test_another_projects_resource_is_not_found(cloud: StreamCloud) -> None:
    ids = await setup_two_projects(cloud)
    blue = ids["blue"]["project"]
    event = GadgetMade(gadget_id="g2", project_id=blue)
    await cloud.store.append(
        StreamWrite("gadget-g2", [registry.new(event, Metadata(project_id=blue))])
    )
    status, body = await get(cloud, "/resources/gadget/g2/history", token=ids["token"])
    assert status == 404
    assert "itemNotFound" in body
    # the same answer as for a resource that does not exist at all
    status, _ = await get(cloud, "/resources/gadget/nothing/history", token=ids["token"])
    assert status == 404
    # the admin sees it, and identity's own resources too, secrets withheld
    status, body = await get(cloud, "/resources/gadget/g2/history")
    assert status == 200
    assert len(body["events"]) == 1
    status, body = await get(cloud, f"/resources/user/{ids['red']['user']}/history")
    assert status == 200
    assert body["events"][0]["data"]["password_hash"] == REDACTED


@pytest.mark.parametrize(
    "path",
    ["/resources/bad-kind/x/history", "/resources/gadget/x/history?limit=0",
     "/resources/gadget/x/history?marker=-1", "/resources/gadget/x/history?limit=²"],
)  # fmt: skip
async def test_bad_requests_are_400(cloud: StreamCloud, path: str) -> None:
    response = await cloud.client.get(
        "/events/v1" + path, headers={"X-Auth-Token": cloud.admin_token}
    )
    assert response.status == 400


async def test_history_needs_a_token(cloud: StreamCloud) -> None:
    response = await cloud.client.get("/events/v1/resources/gadget/x/history")
    assert response.status == 401
