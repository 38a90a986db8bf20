"""Concurrent port creates: no address is given twice, no quota is overbooked.

Two deciders share the store as two API processes would: the cloud's own
(batching the HTTP requests of one project) and a second :class:`Networking`
on its own read model, batching its own. Their appends race on the
subnet's and the project's streams; the expected versions must keep them honest.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from cairn.events import Metadata
from cairn.network.access import Caller as DomainCaller
from cairn.network.errors import NetworkError
from cairn.network.service import Networking
from tests.network.conftest import NetworkCloud, settings_for, start_cloud

POOL = 252  # a /24 has 253 pool addresses; the DHCP port takes one


async def _race(cloud: NetworkCloud, total: int, cidr: str = "10.40.0.0/24") -> dict[str, Any]:
    demo = await cloud.member()
    network = await cloud.network(demo)
    await cloud.subnet(network["id"], cidr, demo)
    second = Networking(cloud.store, cloud.networking.config)
    await second.start()
    who = DomainCaller(project_id=demo.project_id, user_id=demo.user_id)

    async def by_http() -> tuple[str, Any]:
        status, body = await cloud.call(
            "POST", "/ports", demo, {"port": {"network_id": network["id"]}}
        )
        if status == 201:
            return "ok", body["port"]["fixed_ips"][0]["ip_address"]
        return body["NeutronError"]["type"], status

    async def by_second() -> tuple[str, Any]:
        meta = Metadata(user_id=demo.user_id, project_id=demo.project_id)
        try:
            port = await second.create_port(
                who, {"network_id": network["id"]}, demo.project_id, meta
            )
        except NetworkError as exc:
            return exc.type, exc.status
        return "ok", port.get("fixed_ips")[0]["ip_address"]

    try:
        calls = [by_http() if i % 2 else by_second() for i in range(total)]
        outcomes = await asyncio.gather(*calls)
    finally:
        await second.stop()
    await cloud.networking.runner.wait_for(await cloud.store.head())
    return {"network": network, "outcomes": outcomes, "demo": demo}


async def _check_addresses(cloud: NetworkCloud, result: dict[str, Any], wanted: int) -> None:
    outcomes = result["outcomes"]
    given = [value for kind, value in outcomes if kind == "ok"]
    refused = Counter(kind for kind, _ in outcomes if kind != "ok")
    assert len(given) == wanted
    assert len(set(given)) == len(given), "an address was given twice"
    assert refused == Counter({"IpAddressGenerationFailure": len(outcomes) - wanted})
    listed = (
        await cloud.ok("GET", f"/ports?network_id={result['network']['id']}", result["demo"])
    )["ports"]
    addresses = [p["fixed_ips"][0]["ip_address"] for p in listed]
    assert len(addresses) == wanted + 1  # and the DHCP port
    assert len(set(addresses)) == len(addresses)


async def test_300_concurrent_ports_on_a_24(cloud: NetworkCloud) -> None:
    result = await _race(cloud, 300)
    await _check_addresses(cloud, result, POOL)


@pytest.mark.postgres
async def test_300_concurrent_ports_on_postgres(tmp_path: Path, pg_database: str) -> None:
    cloud = await start_cloud(settings_for(tmp_path, store=pg_database))
    try:
        result = await _race(cloud, 300)
        await _check_addresses(cloud, result, POOL)
    finally:
        await cloud.client.close()


async def test_port_quota_holds_under_concurrency(cloud: NetworkCloud) -> None:
    demo = await cloud.member()
    network = await cloud.network(demo)
    await cloud.subnet(network["id"], "10.41.0.0/24", demo)  # its DHCP port counts: 1 used
    await cloud.ok("PUT", f"/quotas/{demo.project_id}", None, {"quota": {"port": 10}})
    second = Networking(cloud.store, cloud.networking.config)
    await second.start()
    who = DomainCaller(project_id=demo.project_id, user_id=demo.user_id)

    async def one(index: int) -> str:
        if index % 2:
            status, body = await cloud.call(
                "POST", "/ports", demo, {"port": {"network_id": network["id"]}}
            )
            return "ok" if status == 201 else body["NeutronError"]["type"]
        try:
            await second.create_port(
                who, {"network_id": network["id"]}, demo.project_id, Metadata()
            )
        except NetworkError as exc:
            return exc.type
        return "ok"

    try:
        outcomes = Counter(await asyncio.gather(*(one(i) for i in range(30))))
    finally:
        await second.stop()
    assert outcomes == Counter({"ok": 9, "OverQuota": 21})
    details = await cloud.ok("GET", f"/quotas/{demo.project_id}/details", demo)
    assert details["quota"]["port"]["used"] == 10
