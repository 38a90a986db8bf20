"""Flavors as Nova takes them: boolean words in bodies and filters, who sees what."""

from __future__ import annotations

from typing import Any

from tests.compute.conftest import ComputeCloud


def _flavor(name: str, flavor_id: str, **extra: Any) -> dict[str, Any]:
    return {"flavor": {"name": name, "id": flavor_id, "ram": 64, "vcpus": 1, "disk": 1, **extra}}


async def _names(cloud: ComputeCloud, query: str, who: Any = None) -> list[str]:
    status, body = await cloud.call("GET", f"/flavors/detail{query}", who)
    assert status == 200, body
    return [f["name"] for f in body["flavors"]]


async def test_is_public_accepts_nova_words_and_filters_by_them(cloud: ComputeCloud) -> None:
    for word, flavor_id in (("False", "w-private"), ("True", "w-public"), ("off", "w-off")):
        status, body = await cloud.call(
            "POST",
            "/flavors",
            json=_flavor(flavor_id, flavor_id, **{"os-flavor-access:is_public": word}),
        )
        assert status == 200, body
        assert body["flavor"]["os-flavor-access:is_public"] is (word == "True")
    for word in ("f", "false", "no", "0", "FALSE"):
        names = await _names(cloud, f"?is_public={word}")
        assert {"w-private", "w-off"} <= set(names), word
        assert "w-public" not in names, word
    for word in ("t", "true", "yes", "1"):
        names = await _names(cloud, f"?is_public={word}")
        assert "w-public" in names, word
        assert "w-private" not in names, word
    both = await _names(cloud, "?is_public=None")
    assert {"w-public", "w-private"} <= set(both)
    # No filter: the public ones.
    assert "w-private" not in await _names(cloud, "")


async def test_bad_is_public_is_a_400_with_nova_fault(cloud: ComputeCloud) -> None:
    for bad in ("maybe", 1, None, "t"):
        status, body = await cloud.call(
            "POST", "/flavors", json=_flavor("bad", "bad", **{"os-flavor-access:is_public": bad})
        )
        assert status == 400, bad
        assert body["badRequest"]["code"] == 400
        assert "os-flavor-access:is_public" in body["badRequest"]["message"]
    status, body = await cloud.call("GET", "/flavors?is_public=perhaps")
    assert status == 400
    assert body["badRequest"]["message"] == "Invalid is_public filter [perhaps]"
    status, _ = await cloud.call("GET", "/flavors/bad")
    assert status == 404


async def test_members_ignore_is_public_and_see_only_what_is_shared(cloud: ComputeCloud) -> None:
    member, other = await cloud.member(), await cloud.member()
    status, _ = await cloud.call(
        "POST", "/flavors", json=_flavor("shared", "s-1", **{"os-flavor-access:is_public": "no"})
    )
    assert status == 200
    status, _ = await cloud.call(
        "POST", "/flavors/s-1/action", json={"addTenantAccess": {"tenant": member.project_id}}
    )
    assert status == 200
    # A member's is_public filter is ignored (Nova: only admins filter on it).
    for query in ("", "?is_public=false", "?is_public=None", "?is_public=junk"):
        assert "shared" in await _names(cloud, query, member), query
        assert "shared" not in await _names(cloud, query, other), query


async def test_extra_spec_unset_answers_200(cloud: ComputeCloud) -> None:
    status, _ = await cloud.call("POST", "/flavors", json=_flavor("specs", "x-1"))
    assert status == 200
    specs = {"hw:numa_nodes": "1", "hw:cpu_policy": "shared"}
    status, body = await cloud.call(
        "POST", "/flavors/x-1/os-extra_specs", json={"extra_specs": specs}
    )
    assert body == {"extra_specs": specs}
    status, body = await cloud.call(
        "PUT", "/flavors/x-1/os-extra_specs/hw:numa_nodes", json={"hw:numa_nodes": "2"}
    )
    assert (status, body) == (200, {"hw:numa_nodes": "2"})
    for key in specs:
        status, _ = await cloud.call("DELETE", f"/flavors/x-1/os-extra_specs/{key}")
        assert status == 200
    status, body = await cloud.call("GET", "/flavors/x-1/os-extra_specs")
    assert body == {"extra_specs": {}}
    status, body = await cloud.call("DELETE", "/flavors/x-1/os-extra_specs/hw:numa_nodes")
    assert status == 404
    assert body["itemNotFound"]["code"] == 404
