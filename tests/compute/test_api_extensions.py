"""/extensions lists only what the compute API serves."""

from __future__ import annotations

from tests.compute.conftest import ComputeCloud

from cairn.api.compute import ROUTES, V
from cairn.api.compute.extensions import EXTENSIONS


def test_every_listed_extension_path_is_routed() -> None:
    routed = {route.path for route in ROUTES}
    for alias, _, _, path in EXTENSIONS:
        assert path is None or V + path in routed, alias


async def test_list_and_show(cloud: ComputeCloud) -> None:
    member = await cloud.member()
    status, body = await cloud.call("GET", "/extensions", member)
    assert status == 200
    by_alias = {e["alias"]: e for e in body["extensions"]}
    assert by_alias["os-hosts"]["name"] == "Hosts"
    assert "os-consoles" not in by_alias  # no interactive consoles here
    status, body = await cloud.call("GET", "/extensions/os-aggregates", member)
    assert (status, body["extension"]["name"]) == (200, "Aggregates")
    status, body = await cloud.call("GET", "/extensions/os-consoles", member)
    assert status == 404
    assert body["itemNotFound"]["code"] == 404
