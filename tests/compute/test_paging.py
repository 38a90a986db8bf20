"""Compute listings page by one rule (cairn.api.paging): ``limit=0`` is no
limit, the page size is capped by ``api_max_limit``, and a next link appears
whenever more items exist (and only then), with or without a ``limit``."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from tests.compute.conftest import ComputeCloud, default_images, settings_for, start_cloud

from cairn.api.paging import DEFAULT_MAX_LIMIT, PagingError, limit_of, window


@pytest.fixture
async def small(tmp_path: Path) -> AsyncIterator[ComputeCloud]:
    made = await start_cloud(settings_for(tmp_path, api_max_limit=3), default_images())
    try:
        yield made
    finally:
        await made.client.close()


def _marker(links: list[dict[str, str]]) -> str:
    [link] = links
    assert link["rel"] == "next"
    return link["href"].split("marker=")[1].split("&")[0]


async def _walk(cloud: ComputeCloud, path: str, key: str, ident: str, query: str = "") -> Any:
    """Every item of a listing, by following its next links; and the pages' sizes."""
    seen: list[str] = []
    sizes = []
    url = f"{path}?{query}"
    while True:
        status, body = await cloud.call("GET", url, version="2.100")
        assert status == 200, body
        items = [item.get("keypair", item)[ident] for item in body[key]]
        seen += items
        sizes.append(len(items))
        links = body.get(f"{key}_links")
        if not links:
            return seen, sizes
        url = f"{path}?{query}&marker={_marker(links)}"


async def test_listings_longer_than_the_cap_have_next_links(small: ComputeCloud) -> None:
    await small.register_host("h1")
    made = []
    for n in range(5):
        status, body = await small.boot(name=f"vm{n}")
        assert status == 202, body
        made.append(body["server"]["id"])
    for path in ("/servers", "/servers/detail"):
        seen, sizes = await _walk(small, path, "servers", "id")
        assert sorted(seen) == sorted(made)
        assert sizes == [3, 2]
        seen, sizes = await _walk(small, path, "servers", "id", "limit=0")
        assert sorted(seen) == sorted(made)
        assert sizes == [3, 2]
        seen, sizes = await _walk(small, path, "servers", "id", "limit=100")
        assert sizes == [3, 2]
    seen, sizes = await _walk(small, "/servers", "servers", "id", "limit=5")
    assert sizes == [3, 2]
    status, body = await small.call("GET", "/servers?limit=2&marker=" + seen[2])
    assert [s["id"] for s in body["servers"]] == seen[3:]
    assert "servers_links" not in body  # nothing follows: no link
    flavors, sizes = await _walk(small, "/flavors", "flavors", "id")
    assert len(flavors) == len(set(flavors)) >= 4
    assert sizes[0] == 3
    for name in ("k1", "k2", "k3", "k4"):
        status, body = await small.call(
            "POST", "/os-keypairs", json={"keypair": {"name": name}}, version="2.35"
        )
        assert status in (200, 201), body
    keys, sizes = await _walk(small, "/os-keypairs", "keypairs", "name")
    assert keys == ["k1", "k2", "k3", "k4"]
    assert sizes == [3, 1]


async def test_limit_zero_and_bad_limits_are_never_500s(cloud: ComputeCloud) -> None:
    await cloud.register_host("h1")
    for _ in range(2):
        await cloud.boot()
    for path, key in (
        ("/servers", "servers"),
        ("/flavors", "flavors"),
        ("/os-keypairs", "keypairs"),
        ("/servers/detail", "servers"),
    ):
        status, body = await cloud.call("GET", f"{path}?limit=0", version="2.100")
        assert status == 200, (path, body)
        assert body[key] or key == "keypairs"
        assert f"{key}_links" not in body
        for bad in ("-1", "x", "1.5", "²"):
            status, body = await cloud.call("GET", f"{path}?limit={bad}", version="2.100")
            assert status == 400, (path, bad, body)
            assert body["badRequest"]["code"] == 400


def test_the_rule() -> None:
    items = [str(n) for n in range(5)]
    page = window(items, str, limit="2", marker=None)
    assert (page.items, page.more) == (["0", "1"], True)
    page = window(items, str, limit="2", marker="2")
    assert (page.items, page.more) == (["3", "4"], False)
    page = window(items, str, limit=None, marker=None, max_limit=5)
    assert (page.items, page.more) == (items, False)
    page = window(items, str, limit="0", marker="4")
    assert (page.items, page.more) == ([], False)
    assert limit_of(None, 7) == 7 == limit_of("0", 7) == limit_of("70", 7)
    assert limit_of(" 3 ", DEFAULT_MAX_LIMIT) == 3
    for bad in ("-1", "", "a", "٣"):
        with pytest.raises(PagingError):
            limit_of(bad, 10)
    with pytest.raises(PagingError):
        window(items, str, limit=None, marker="nope")
