"""End to end on real QEMU: ``cairn up`` with the default guest image, driven by the
real ``openstack`` CLI as a project member. A server boots from the image the
first start uploaded (kernel + ramdisk + disk, fetched by the agent through the
image API), prints on its serial console, stops, starts, reboots and is deleted;
another project cannot see it; libvirt keeps nothing of it afterwards."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator

import libvirt
import pytest
from tests.cloud_process import Running, build_guest, cairn_up

QEMU = "qemu:///system"
#: TCG boots the guest in 4-6 s on these machines; CI may be slower.
BOOT_TIMEOUT = 90.0


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    data = tmp_path_factory.mktemp("qemu-cloud") / "data"
    options = ("--hypervisor", QEMU, "--compute-hosts", "1", "--guest-dir", str(build_guest()))
    with cairn_up(data, *options) as (running, _pid):
        yield running


def _until(what: str, probe: Callable[[], bool], timeout: float = BOOT_TIMEOUT) -> None:
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.5)


def _status(cloud: Running, server: str) -> str:
    return cloud.openstack("server", "show", server, "-c", "status", "-f", "value",
                           cloud="cairn-demo").stdout.strip()  # fmt: skip


def _console(cloud: Running, server: str) -> str:
    return cloud.openstack("console", "log", "show", server, cloud="cairn-demo").stdout


def _domain_names() -> set[str]:
    connection = libvirt.open(QEMU)
    try:
        return {domain.name() for domain in connection.listAllDomains()}
    finally:
        connection.close()


def test_a_real_guest_boots_prints_and_obeys_the_cli(cloud: Running) -> None:
    images = cloud.json("image", "list", cloud="cairn-demo")
    assert isinstance(images, list)
    assert {i["Name"]: i["Status"] for i in images}["cairn-guest"] == "active"

    made = cloud.json("server", "create", "--image", "cairn-guest", "--flavor", "m1.nano",
                      "--nic", "none", "--wait", "qemu-one", cloud="cairn-demo")  # fmt: skip
    assert isinstance(made, dict)
    server = str(made["id"])
    assert made["status"] == "ACTIVE"
    _until("the guest's GUEST-UP line", lambda: "GUEST-UP" in _console(cloud, server))
    # The guest booted the kernel and ramdisk images with the disk image as vda.
    assert "DISKS" in _console(cloud, server)

    admin_view = cloud.json("server", "show", server)
    assert isinstance(admin_view, dict)
    instance_name = str(admin_view["OS-EXT-SRV-ATTR:instance_name"])
    assert instance_name in _domain_names()

    cloud.openstack("server", "stop", server, cloud="cairn-demo")
    _until("SHUTOFF", lambda: _status(cloud, server) == "SHUTOFF")
    cloud.openstack("server", "start", server, cloud="cairn-demo")
    _until("ACTIVE after start", lambda: _status(cloud, server) == "ACTIVE")
    cloud.openstack("server", "reboot", "--hard", "--wait", server, cloud="cairn-demo")
    assert _status(cloud, server) == "ACTIVE"
    _until("a boot after the reboot", lambda: _console(cloud, server).count("GUEST-UP") >= 1)

    actions = cloud.json("server", "event", "list", server, cloud="cairn-demo")
    assert isinstance(actions, list)
    assert [a["Action"] for a in actions] == ["reboot", "start", "stop", "create"]

    cloud.openstack("server", "delete", "--wait", server, cloud="cairn-demo")
    listed = cloud.json("server", "list", cloud="cairn-demo")
    assert listed == []
    assert instance_name not in _domain_names()
    # The instance actions outlive the server (answered from the event log).
    history = cloud.json("server", "event", "list", server, cloud="cairn-admin")
    assert isinstance(history, list)
    assert history[0]["Action"] == "delete"


def test_another_projects_server_is_invisible(cloud: Running) -> None:
    cloud.openstack("project", "create", "elsewhere")
    cloud.openstack("user", "create", "--password", "bob-pw-1", "--project", "elsewhere", "bob")
    cloud.openstack("role", "add", "--user", "bob", "--project", "elsewhere", "member")
    bob = {
        "OS_AUTH_URL": f"{cloud.url}/identity", "OS_USERNAME": "bob", "OS_PASSWORD": "bob-pw-1",
        "OS_PROJECT_NAME": "elsewhere", "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default", "OS_IDENTITY_API_VERSION": "3",
    }  # fmt: skip
    made = cloud.json("server", "create", "--image", "cairn-guest", "--flavor", "m1.nano",
                      "--nic", "none", "--wait", "demo-private", cloud="cairn-demo")  # fmt: skip
    assert isinstance(made, dict)
    try:
        seen = cloud.openstack("server", "show", str(made["id"]), cloud="", env=bob, check=False)
        assert seen.returncode != 0
        assert "No Server found" in seen.stderr or "404" in seen.stderr, seen.stderr
        listed = json.loads(cloud.openstack("server", "list", "-f", "json", cloud="",
                                            env=bob).stdout)  # fmt: skip
        assert listed == []
    finally:
        cloud.openstack("server", "delete", "--wait", str(made["id"]), cloud="cairn-demo")


def test_a_config_drive_gives_a_guest_without_network_its_key_and_user_data(
    cloud: Running,
) -> None:
    cloud.openstack("keypair", "create", "drive", cloud="cairn-demo")  # Nova makes the key
    key = cloud.openstack(
        "keypair", "show", "--public-key", "drive", cloud="cairn-demo"
    ).stdout.strip()
    user_data = cloud.data.parent / "drive-user-data.txt"
    user_data.write_text("first line from the drive\nsecond line\n")
    made = cloud.json(
        "server", "create", "--image", "cairn-guest", "--flavor", "m1.nano", "--nic", "none",
        "--config-drive", "True", "--key-name", "drive", "--user-data", str(user_data),
        "--wait", "with-drive", cloud="cairn-demo",
    )  # fmt: skip
    assert isinstance(made, dict)
    server = str(made["id"])
    try:
        assert made["config_drive"] == "True"
        _until("the guest to read its drive", lambda: "CONFIG-DRIVE-END" in _console(cloud, server))
        console = _console(cloud, server)
        assert f"CONFIG-DRIVE-KEY {key}" in console
        assert "CONFIG-DRIVE-USERDATA first line from the drive" in console
        assert "CONFIG-DRIVE-USERDATA second line" in console
    finally:
        cloud.openstack("server", "delete", "--wait", server, cloud="cairn-demo")
    # A server without a drive has none (its guest says nothing of one).
    plain = cloud.json("server", "create", "--image", "cairn-guest", "--flavor", "m1.nano",
                       "--nic", "none", "--wait", "no-drive", cloud="cairn-demo")  # fmt: skip
    assert isinstance(plain, dict)
    try:
        assert not plain["config_drive"]  # Nova shows "", the CLI None
        _until(
            "the plain guest's heartbeat",
            lambda: "HEARTBEAT 3" in _console(cloud, str(plain["id"])),
        )
        assert "CONFIG-DRIVE" not in _console(cloud, str(plain["id"]))
    finally:
        cloud.openstack("server", "delete", "--wait", str(plain["id"]), cloud="cairn-demo")


def test_a_snapshot_of_a_running_guest_boots_a_second_server(cloud: Running) -> None:
    demo = {"cloud": "cairn-demo"}
    made = cloud.json("server", "create", "--image", "cairn-guest", "--flavor", "m1.nano",
                      "--nic", "none", "--wait", "original", **demo)  # fmt: skip
    assert isinstance(made, dict)
    original = str(made["id"])
    copy = None
    try:
        _until("the original's heartbeat", lambda: "HEARTBEAT 2" in _console(cloud, original))
        image = cloud.json("server", "image", "create", "--name", "snap", "--wait", original,
                           **demo)  # fmt: skip
        assert isinstance(image, dict)
        assert image["status"] == "active"
        shown = cloud.json("image", "show", "snap", **demo)
        assert isinstance(shown, dict)
        properties = shown["properties"]
        assert properties["image_type"] == "snapshot"
        assert properties["instance_uuid"] == original
        assert properties["kernel_id"]  # it boots the way the original did
        assert shown["disk_format"] == "qcow2"
        assert int(shown["size"]) > 0
        # The original ran on through its snapshot: still ACTIVE, still counting.
        assert _status(cloud, original) == "ACTIVE"
        beats = _console(cloud, original).count("HEARTBEAT")
        _until(
            "the original to go on", lambda: _console(cloud, original).count("HEARTBEAT") > beats
        )
        second = cloud.json("server", "create", "--image", "snap", "--flavor", "m1.nano",
                            "--nic", "none", "--wait", "from-snapshot", **demo)  # fmt: skip
        assert isinstance(second, dict)
        copy = str(second["id"])
        assert second["status"] == "ACTIVE"
        _until("the copy's GUEST-UP", lambda: "GUEST-UP" in _console(cloud, copy))
        actions = cloud.json("server", "event", "list", original, **demo)
        assert isinstance(actions, list)
        assert [a["Action"] for a in actions] == ["createImage", "create"]
    finally:
        for server in (copy, original):
            if server is not None:
                cloud.openstack("server", "delete", "--wait", server, **demo)
        cloud.openstack("image", "delete", "snap", check=False, **demo)


def test_rebuild_gives_a_guest_a_new_image_and_user_data_and_keeps_a_stopped_one_stopped(
    cloud: Running,
) -> None:
    demo = {"cloud": "cairn-demo"}
    first = cloud.data.parent / "rebuild-one.txt"
    first.write_text("before the rebuild\n")
    made = cloud.json("server", "create", "--image", "cairn-guest", "--flavor", "m1.nano",
                      "--nic", "none", "--config-drive", "True", "--user-data", str(first),
                      "--wait", "rebuilt", **demo)  # fmt: skip
    assert isinstance(made, dict)
    server = str(made["id"])
    try:
        _until(
            "the first user data", lambda: "USERDATA before the rebuild" in _console(cloud, server)
        )
        cloud.json(
            "server", "image", "create", "--name", "rebuild-target", "--wait", server, **demo
        )
        target = cloud.json("image", "show", "rebuild-target", **demo)
        assert isinstance(target, dict)
        second = cloud.data.parent / "rebuild-two.txt"
        second.write_text("after the rebuild\n")
        cloud.openstack("--os-compute-api-version", "2.57", "server", "rebuild", "--image",
                        "rebuild-target", "--user-data", str(second), "--wait", server,
                        **demo)  # fmt: skip
        shown = cloud.json("server", "show", server, **demo)
        assert isinstance(shown, dict)
        assert shown["status"] == "ACTIVE"
        assert target["id"] in str(shown["image"])
        _until("the new user data", lambda: "USERDATA after the rebuild" in _console(cloud, server))
        assert "before the rebuild" not in _console(cloud, server)  # a new guest, a new console

        cloud.openstack("server", "stop", server, **demo)
        _until("SHUTOFF", lambda: _status(cloud, server) == "SHUTOFF")
        cloud.openstack("server", "rebuild", "--image", "cairn-guest", "--wait", server, **demo)
        _until("the rebuild to end", lambda: _status(cloud, server) != "REBUILD")
        assert _status(cloud, server) == "SHUTOFF"
        actions = cloud.json("server", "event", "list", server, **demo)
        assert isinstance(actions, list)
        assert [a["Action"] for a in actions][:3] == ["rebuild", "stop", "rebuild"]
    finally:
        cloud.openstack("server", "delete", "--wait", server, **demo)
        cloud.openstack("image", "delete", "rebuild-target", check=False, **demo)


def test_a_crash_dump_trigger_reaches_the_guest_kernel_as_an_nmi(cloud: Running) -> None:
    demo = {"cloud": "cairn-demo"}
    made = cloud.json("server", "create", "--image", "cairn-guest", "--flavor", "m1.nano",
                      "--nic", "none", "--wait", "nmi", **demo)  # fmt: skip
    assert isinstance(made, dict)
    server = str(made["id"])
    try:
        _until("the guest's heartbeat", lambda: "HEARTBEAT 2" in _console(cloud, server))
        cloud.openstack("--os-compute-api-version", "2.17", "server", "dump", "create", server,
                        **demo)  # fmt: skip
        _until("the guest's kernel to see the NMI", lambda: "NMI" in _console(cloud, server), 30)
        actions = cloud.json("server", "event", "list", server, **demo)
        assert isinstance(actions, list)
        assert actions[0]["Action"] == "trigger_crash_dump"
    finally:
        cloud.openstack("server", "delete", "--wait", server, **demo)
