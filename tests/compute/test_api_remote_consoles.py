"""Remote consoles through the HTTP API (no guest runs: the host is registered as its
agent would). A host whose driver has a serial console gets a URL with a token the
log grants; the protocols a guest has no device for, and bad bodies, are 400s as
Nova's; the token is never stored, and expires."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qs, urlsplit

import msgspec
from tests.compute.conftest import ComputeCloud
from tests.compute.running import running_server

from cairn.compute import consoles
from cairn.events import compute as ev

URL = "ws://127.0.0.1:6083/"
REMOTE = {"remote_console": {"protocol": "serial", "type": "serial"}}


async def _serial_host(cloud: ComputeCloud, host: str = "h1") -> None:
    event = ev.ComputeHostRegistered(
        host=host,
        hypervisor_type="QEMU",
        hypervisor_version=7002000,
        hypervisor_uri="qemu:///system",
        availability_zone="nova",
        capacity=ev.ResourceAmounts(vcpus=8, memory_mb=8192, disk_gb=100),
        capabilities=["serial-console"],
        serial_console_url=URL,
    )
    await cloud.append(f"computehost-{host}", event)


async def test_a_serial_console_url_carries_a_token_the_log_grants(cloud: ComputeCloud) -> None:
    await _serial_host(cloud)
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)

    status, body = await cloud.call(
        "POST", f"/servers/{server_id}/remote-consoles", owner, REMOTE, version="2.6"
    )

    assert status == 200, body
    shown = body["remote_console"]
    assert (shown["protocol"], shown["type"]) == ("serial", "serial")
    assert shown["url"].startswith(URL + "?token=")
    (token,) = parse_qs(urlsplit(shown["url"]).query)["token"]
    grant = await consoles.find_token(cloud.store, token)
    assert grant is not None
    assert (grant.server_id, grant.host, grant.project_id) == (server_id, "h1", owner.project_id)
    # the log holds the token's hash only
    stream = ev.console_token_stream(hashlib.sha256(token.encode()).hexdigest())
    [record] = await cloud.store.read_stream(stream)
    assert token.encode() not in record.data
    # ... and the grant ends
    assert await consoles.find_token(cloud.store, token, now=grant.expires_at) is None
    assert await consoles.find_token(cloud.store, token + "x") is None

    status, body = await cloud.call(
        "POST", f"/servers/{server_id}/action", owner, {"os-getSerialConsole": {"type": "serial"}}
    )
    assert status == 200, body
    assert body["console"]["type"] == "serial"
    assert body["console"]["url"].startswith(URL + "?token=")
    assert body["console"]["url"] != shown["url"]

    admin = cloud.admin
    status, body = await cloud.call(
        "GET", f"/os-console-auth-tokens/{token}", admin, version="2.31"
    )
    assert status == 200, body
    assert body["console"]["instance_uuid"] == server_id
    assert (body["console"]["host"], body["console"]["port"]) == ("h1", 6083)
    status, _ = await cloud.call("GET", f"/os-console-auth-tokens/{token}", owner, version="2.31")
    assert status == 403
    status, _ = await cloud.call("GET", "/os-console-auth-tokens/nope", admin, version="2.31")
    assert status == 404
    status, _ = await cloud.call("GET", f"/os-console-auth-tokens/{token}", admin, version="2.30")
    assert status == 400


async def test_consoles_nova_would_refuse_are_refused(cloud: ComputeCloud) -> None:
    await _serial_host(cloud)
    owner, other = await cloud.member(), await cloud.member()
    server_id = await running_server(cloud, owner)
    path = f"/servers/{server_id}/remote-consoles"
    before = await cloud.store.read_all()

    status, _ = await cloud.call("POST", path, owner, REMOTE, version="2.5")
    assert status == 404
    status, body = await cloud.call("POST", path, other, REMOTE, version="2.6")
    assert status == 404, body
    cases = [
        ({"remote_console": {"protocol": "vnc", "type": "novnc"}}, "Unavailable console type"),
        ({"remote_console": {"protocol": "spice", "type": "spice-html5"}}, "Unavailable"),
        ({"remote_console": {"protocol": "serial", "type": "novnc"}}, "Invalid console type"),
        ({"remote_console": {"protocol": "telnet", "type": "serial"}}, "is not one of"),
        ({"remote_console": {"protocol": "serial", "type": "tty"}}, "is not one of"),
        ({"remote_console": {"protocol": "serial"}}, "required property"),
        ({"remote_console": {"protocol": "serial", "type": "serial", "x": 1}}, "Additional"),
        ({"remote_console": {"protocol": "mks", "type": "webmks"}}, "is not one of"),
        ({"console": {}}, ""),
        ([], ""),
    ]
    for payload, message in cases:
        status, body = await cloud.call("POST", path, owner, payload, version="2.6")
        assert status == 400, (payload, body)
        assert message in body["badRequest"]["message"], (payload, body)
    refused_actions = [
        {"os-getVNCConsole": {"type": "novnc"}},
        {"os-getRDPConsole": {"type": "x"}},
        {"os-getSerialConsole": {}},
        {"os-getSerialConsole": "serial"},
    ]
    for action in refused_actions:
        status, body = await cloud.call("POST", f"/servers/{server_id}/action", owner, action)
        assert status == 400, (action, body)
    # nothing was granted by any of them
    after = await cloud.store.read_all()
    assert [e.type for e in after[len(before) :]] == []


async def test_no_serial_console_without_the_hosts_capability_or_a_running_guest(
    cloud: ComputeCloud,
) -> None:
    await cloud.register_host("h1")  # the test driver's registration: no serial console
    owner = await cloud.member()
    server_id = await running_server(cloud, owner)
    path = f"/servers/{server_id}/remote-consoles"
    status, body = await cloud.call("POST", path, owner, REMOTE, version="2.6")
    assert status == 400
    assert body["badRequest"]["message"] == "Unavailable console type serial."

    await _serial_host(cloud)
    # the guest powered itself off, as its agent reports it
    await cloud.append(
        ev.server_stream(server_id),
        ev.ServerPowerStateChanged(
            server_id=server_id, host="h1", vm_state="stopped", power_state=4
        ),
    )
    status, body = await cloud.call("POST", path, owner, REMOTE, version="2.6")
    assert status == 409, body
    assert body["conflictingRequest"]["message"] == "Guest does not have a console available."


def test_a_grant_round_trips_through_the_log() -> None:
    grant = ev.ServerConsoleTokenIssued(
        server_id="s",
        project_id="p",
        host="h",
        protocol="serial",
        console_type="serial",
        token_sha256="0" * 64,
        expires_at=1.0,
        url=URL,
    )
    data = msgspec.json.encode(grant)
    assert msgspec.json.decode(data, type=ev.ServerConsoleTokenIssued) == grant
