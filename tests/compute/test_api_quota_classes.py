"""os-quota-class-sets: the default class is every project's defaults."""

from __future__ import annotations

from tests.compute.conftest import ComputeCloud


async def test_default_class_sets_every_projects_defaults(cloud: ComputeCloud) -> None:
    member = await cloud.member()
    status, body = await cloud.call("GET", "/os-quota-class-sets/default", version="2.57")
    assert status == 200
    shown = body["quota_class_set"]
    assert shown.pop("id") == "default"
    assert shown["instances"] == 10
    assert "server_groups" in shown
    assert "injected_files" not in shown
    raised = {key: value + 100 for key, value in shown.items()}
    status, body = await cloud.call(
        "PUT", "/os-quota-class-sets/default", json={"quota_class_set": raised}, version="2.57"
    )
    assert status == 200
    assert body["quota_class_set"] == raised
    status, body = await cloud.call("GET", f"/os-quota-sets/{member.project_id}", member)
    assert body["quota_set"]["instances"] == 110
    status, body = await cloud.call("GET", "/os-quota-class-sets/default")
    assert "server_groups" not in body["quota_class_set"]  # before 2.50
    assert body["quota_class_set"]["cores"] == raised["cores"]


async def test_quota_class_refusals(cloud: ComputeCloud) -> None:
    member = await cloud.member()
    status, body = await cloud.call("GET", "/os-quota-class-sets/default", member)
    assert status == 403
    status, _ = await cloud.call(
        "PUT", "/os-quota-class-sets/default", member, {"quota_class_set": {"cores": 1}}
    )
    assert status == 403
    status, body = await cloud.call("GET", "/os-quota-class-sets/gold")
    assert status == 404
    assert body["itemNotFound"]["code"] == 404
    for bad in ({"cores": -2}, {"cores": "many"}, {"colour": 1}, {"injected_files": 1}):
        status, body = await cloud.call(
            "PUT", "/os-quota-class-sets/default", json={"quota_class_set": bad}, version="2.57"
        )
        assert status == 400, bad
        assert body["badRequest"]["code"] == 400
    status, body = await cloud.call(
        "PUT", "/os-quota-class-sets/default", json={"quota_class_set": {"server_groups": 1}}
    )
    assert status == 400  # not a class resource before 2.50
    status, body = await cloud.call("GET", "/os-quota-class-sets/default", version="2.57")
    assert body["quota_class_set"]["cores"] == 20
