"""Reaching into a real guest: its password set through its guest agent
(``openstack server set --password``), and its serial console over a WebSocket,
as ``openstack console url show --serial`` gives it: the URL of the host's console
proxy with a short-lived token.
What the guest prints streams to the client, what the client types reaches the
guest's tty (whose line discipline echoes it back). A wrong token is refused,
another project cannot get a URL, and the protocols a guest has no device for are
"Unavailable console type"."""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Iterator

import aiohttp
import pytest
from tests.cloud_process import Running, build_guest, cairn_up

pytestmark = pytest.mark.qemu

QEMU = "qemu:///system"
BOOT_TIMEOUT = 90.0


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("serial-cloud") / "data"
    options = ("--hypervisor", QEMU, "--compute-hosts", "1", "--guest-dir", str(build_guest()))
    with cairn_up(data, *options) as (running, _pid):
        yield running


@pytest.fixture(scope="module")
def server(cloud: Running) -> Iterator[str]:
    made = cloud.json(
        "server",
        "create",
        "--image",
        "cairn-guest",
        "--flavor",
        "m1.nano",
        "--nic",
        "none",
        "--wait",
        "serial-one",
        cloud="cairn-demo",
    )
    assert isinstance(made, dict)
    server_id = str(made["id"])
    deadline = time.monotonic() + BOOT_TIMEOUT
    while (
        "HEARTBEAT"
        not in cloud.openstack("console", "log", "show", server_id, cloud="cairn-demo").stdout
    ):
        if time.monotonic() > deadline:
            pytest.fail("the guest did not boot")
        time.sleep(0.5)
    yield server_id
    cloud.openstack("server", "delete", "--wait", server_id, cloud="cairn-demo")


async def _session(url: str, typed: bytes) -> tuple[bytes, bytes]:
    """What the console showed before typing (a heartbeat), and after (the echo)."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, protocols=("binary",)) as ws,
    ):
        assert ws.protocol == "binary"

        async def until(pattern: bytes) -> bytes:
            seen = b""
            while pattern not in seen:
                message = await ws.receive()
                assert message.type is aiohttp.WSMsgType.BINARY, message
                seen += message.data
            return seen

        before = await asyncio.wait_for(until(b"HEARTBEAT"), 60)
        await ws.send_bytes(typed)
        after = await asyncio.wait_for(until(typed), 30)
        return before, after


def _console_url(cloud: Running, server: str, user: str = "cairn-demo") -> str:
    shown = cloud.json("console", "url", "show", "--serial", server, cloud=user)
    assert isinstance(shown, dict)
    assert shown["type"] == "serial"
    return str(shown["url"])


def test_the_serial_console_streams_the_guest_and_takes_input(cloud: Running, server: str) -> None:
    url = _console_url(cloud, server)
    assert url.startswith("ws://127.0.0.1:")
    assert "token=" in url

    before, after = asyncio.run(_session(url, b"hello-from-the-cli"))

    assert b"HEARTBEAT" in before
    assert b"hello-from-the-cli" in after
    # the token stays usable until it expires (Nova's tokens are not single-use)
    again, _ = asyncio.run(_session(url, b"second-session"))
    assert b"HEARTBEAT" in again


def test_a_wrong_token_is_refused_before_the_upgrade(cloud: Running, server: str) -> None:
    url = _console_url(cloud, server)
    wrong = url.split("token=")[0] + "token=not-a-token"

    async def connect() -> int:
        async with aiohttp.ClientSession() as session:
            try:
                async with session.ws_connect(wrong):
                    return 101
            except aiohttp.WSServerHandshakeError as e:
                return e.status

    assert asyncio.run(connect()) == 401


def test_consoles_are_refused_where_nova_refuses_them(cloud: Running, server: str) -> None:
    vnc = cloud.openstack(
        "console", "url", "show", "--novnc", server, cloud="cairn-demo", check=False
    )
    assert vnc.returncode != 0
    assert "Unavailable console type novnc" in vnc.stderr, vnc.stderr

    cloud.openstack("project", "create", "serial-elsewhere")
    cloud.openstack(
        "user", "create", "--password", "eve-pw-1", "--project", "serial-elsewhere", "eve"
    )
    cloud.openstack("role", "add", "--user", "eve", "--project", "serial-elsewhere", "member")
    eve = {
        "OS_AUTH_URL": f"{cloud.url}/identity",
        "OS_USERNAME": "eve",
        "OS_PASSWORD": "eve-pw-1",
        "OS_PROJECT_NAME": "serial-elsewhere",
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_IDENTITY_API_VERSION": "3",
    }
    other = cloud.openstack(
        "console", "url", "show", "--serial", server, cloud="", env=eve, check=False
    )
    assert other.returncode != 0
    assert "No Server found" in other.stderr or "404" in other.stderr, other.stderr

    cloud.openstack("server", "stop", server, cloud="cairn-demo")
    _wait_status(cloud, server, "SHUTOFF")
    try:
        stopped = cloud.openstack(
            "console", "url", "show", "--serial", server, cloud="cairn-demo", check=False
        )
        assert stopped.returncode != 0
        assert "console available" in stopped.stderr, stopped.stderr
    finally:
        cloud.openstack("server", "start", server, cloud="cairn-demo")
        _wait_status(cloud, server, "ACTIVE")


def _wait_status(cloud: Running, server: str, status: str) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while True:
        shown = cloud.json("server", "show", server, cloud="cairn-demo")
        assert isinstance(shown, dict)
        if shown["status"] == status and not shown.get("OS-EXT-STS:task_state"):
            return
        assert time.monotonic() < deadline, f"the server did not become {status}: {shown}"
        time.sleep(0.5)


def test_a_password_set_through_the_cli_reaches_the_guests_agent(
    cloud: Running, server: str
) -> None:
    _guest_up(cloud, server)  # its agent answers once it has booted (another test restarts it)
    cloud.openstack("server", "set", "--password", "Fresh-pw 42", server, cloud="cairn-demo")

    digest = hashlib.sha256(b"Fresh-pw 42").hexdigest()
    log = cloud.openstack("console", "log", "show", server, cloud="cairn-demo").stdout
    # the CLI returned once the agent had set it (Nova's call is synchronous)
    assert f"PASSWORD-SET root {digest}" in log
    events = cloud.json("server", "event", "list", server, cloud="cairn-demo")
    assert isinstance(events, list)
    assert events[0]["Action"] == "changePassword"
    # the password is nowhere as written: not in the event store, not in the logs
    stored = [p.read_bytes() for p in cloud.data.glob("cairn.sqlite*")]
    assert stored
    assert all(b"Fresh-pw 42" not in data for data in stored)
    assert "Fresh-pw 42" not in cloud.stderr_path.read_text()


def _guest_up(cloud: Running, server: str) -> None:
    deadline = time.monotonic() + BOOT_TIMEOUT
    while (
        "HEARTBEAT 2"
        not in cloud.openstack("console", "log", "show", server, cloud="cairn-demo").stdout
    ):
        assert time.monotonic() < deadline, "the guest did not boot"
        time.sleep(0.5)
