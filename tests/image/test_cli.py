"""End to end: ``cairn up`` in a subprocess with the guest built by
``scripts/build-guest-image``, driven by the real ``openstack`` CLI, plus a
1 GiB upload and download with the server's memory measured."""

from __future__ import annotations

import hashlib
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from tests.cloud_process import Running, build_guest, cairn_up

GIB = 1024**3
CHUNK = 1024 * 1024
#: Growth of the server's peak RSS allowed for a 1 GiB upload and download.
MEMORY_BOUND = 64 * 1024 * 1024


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, int]]:
    data = tmp_path_factory.mktemp("image-cloud") / "data"
    with cairn_up(data, "--guest-dir", str(build_guest())) as running:
        yield running


@pytest.fixture(scope="module")
def cloud(server: tuple[Running, int]) -> Running:
    return server[0]


def _admin_token(cloud: Running) -> str:
    password = cloud.clouds["cairn-admin"]["auth"]["password"]  # type: ignore[index]
    auth = v3.Password(
        auth_url=f"{cloud.url}/identity", username="admin", password=password,
        user_domain_id="default", project_name="admin", project_domain_id="default",
    )  # fmt: skip
    return str(ks_session.Session(auth=auth).get_token())


def show(cloud: Running, image: str, who: str = "cairn-admin") -> dict[str, object]:
    found = cloud.json("image", "show", image, cloud=who)
    assert isinstance(found, dict)
    return found


def names(cloud: Running, *args: str, who: str = "cairn-admin") -> list[str]:
    listed = cloud.json("image", "list", *args, cloud=who)
    assert isinstance(listed, list)
    return sorted(str(i["Name"]) for i in listed)


def test_the_first_start_uploads_the_bootable_guest(cloud: Running) -> None:
    disk = show(cloud, "cairn-guest", who="cairn-demo")
    kernel = show(cloud, "cairn-guest-kernel", who="cairn-demo")
    ramdisk = show(cloud, "cairn-guest-ramdisk", who="cairn-demo")
    for image in (disk, kernel, ramdisk):
        assert (image["status"], image["visibility"]) == ("active", "public")
    assert (disk["disk_format"], disk["virtual_size"]) == ("qcow2", 64 * 1024 * 1024)
    assert (kernel["disk_format"], kernel["container_format"]) == ("aki", "aki")
    assert (ramdisk["disk_format"], ramdisk["container_format"]) == ("ari", "ari")
    properties = disk["properties"]
    assert isinstance(properties, dict)
    assert (properties["kernel_id"], properties["ramdisk_id"]) == (kernel["id"], ramdisk["id"])


def test_create_from_a_file_list_set_unset_save_delete(cloud: Running, tmp_path: Path) -> None:
    payload = tmp_path / "disk.raw"
    payload.write_bytes(hashlib.sha512(b"seed").digest() * 40_000)  # 2.5 MB, not all zero
    made = cloud.json(
        "image", "create", "--file", str(payload), "--disk-format", "raw",
        "--container-format", "bare", "--property", "os_distro=cairnos", "--tag", "first",
        "--private", "cli-image", cloud="cairn-demo",
    )  # fmt: skip
    assert isinstance(made, dict)
    assert (made["status"], made["size"]) == ("active", payload.stat().st_size)
    assert made["checksum"] == hashlib.md5(payload.read_bytes()).hexdigest()
    cloud.openstack("image", "create", "--disk-format", "qcow2", "other-image", cloud="cairn-demo")

    assert "cli-image" in names(cloud, who="cairn-demo")
    assert names(cloud, "--name", "cli-image", who="cairn-demo") == ["cli-image"]
    assert names(cloud, "--property", "os_distro=cairnos", who="cairn-demo") == ["cli-image"]
    assert names(cloud, "--tag", "first", who="cairn-demo") == ["cli-image"]
    assert names(cloud, "--private", who="cairn-demo") == ["cli-image"]
    # (without --file, the CLI uploads its standard input when that is not a terminal)
    other = show(cloud, "other-image", who="cairn-demo")["status"]
    assert "other-image" in names(cloud, "--status", str(other), who="cairn-demo")
    assert "cli-image" in names(cloud, "--status", "active", who="cairn-demo")
    assert names(cloud, "--status", "killed", who="cairn-demo") == []
    assert "cairn-guest" in names(cloud, "--public", who="cairn-demo")
    # the admin project does not see demo's private image in its own listing filters
    assert "cli-image" not in names(cloud, "--private", "--project", "admin")

    cloud.openstack(
        "image", "set", "--property", "hw_rng_model=virtio", "--tag", "second", "--min-ram", "128",
        "cli-image", cloud="cairn-demo",
    )  # fmt: skip
    shown = show(cloud, "cli-image", who="cairn-demo")
    properties = shown["properties"]
    assert isinstance(properties, dict)
    assert (properties["hw_rng_model"], shown["min_ram"]) == ("virtio", 128)
    assert sorted(shown["tags"]) == ["first", "second"]  # type: ignore[arg-type]
    cloud.openstack(
        "image", "unset", "--property", "os_distro", "--tag", "first", "cli-image",
        cloud="cairn-demo",
    )  # fmt: skip
    shown = show(cloud, "cli-image", who="cairn-demo")
    assert "os_distro" not in shown["properties"]  # type: ignore[operator]
    assert shown["tags"] == ["second"]

    saved = tmp_path / "saved.raw"
    cloud.openstack("image", "save", "--file", str(saved), "cli-image", cloud="cairn-demo")
    assert saved.read_bytes() == payload.read_bytes()
    assert hashlib.md5(saved.read_bytes()).hexdigest() == shown["checksum"]
    # the CLI shows the attributes it does not know among the properties
    sha512 = shown["properties"]["os_hash_value"]  # type: ignore[index]
    assert hashlib.sha512(saved.read_bytes()).hexdigest() == sha512

    cloud.openstack("image", "delete", "cli-image", "other-image", cloud="cairn-demo")
    assert cloud.openstack("image", "show", "cli-image", cloud="cairn-demo", check=False).returncode
    assert not list((cloud.data / "images").glob(str(made["id"])))


def test_sharing_an_image_between_two_projects(cloud: Running) -> None:
    made = cloud.json("image", "create", "--disk-format", "raw", "--container-format", "bare",
                      "--shared", "to-share")  # fmt: skip
    assert isinstance(made, dict)
    image = str(made["id"])
    assert "to-share" not in names(cloud, who="cairn-demo")
    cloud.openstack("image", "add", "project", image, "demo")
    members = cloud.json("image", "member", "list", image)
    assert isinstance(members, list)
    assert [m["Status"] for m in members] == ["pending"]
    # pending: demo can show it but its listing waits for an acceptance
    assert show(cloud, image, who="cairn-demo")["name"] == "to-share"
    assert "to-share" not in names(cloud, who="cairn-demo")
    cloud.openstack("image", "set", "--accept", image, cloud="cairn-demo")
    assert names(cloud, "--shared", who="cairn-demo") == ["to-share"]
    members = cloud.json("image", "member", "list", image)
    assert [m["Status"] for m in members] == ["accepted"]  # type: ignore[index, union-attr]
    # a member may not change what it was given
    denied = cloud.openstack(
        "image", "set", "--name", "mine", image, cloud="cairn-demo", check=False
    )
    assert denied.returncode != 0
    cloud.openstack("image", "remove", "project", image, "demo")
    hidden = cloud.openstack("image", "show", image, cloud="cairn-demo", check=False)
    assert hidden.returncode != 0
    cloud.openstack("image", "delete", image)


def _memory(pid: int) -> dict[str, int]:
    fields: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            fields[key] = int(value.split()[0]) * 1024
    return fields


def _generated(total: int, md5: hashlib._Hash) -> Iterator[bytes]:
    block = hashlib.sha512(b"cairn").digest() * (CHUNK // 64)
    sent = 0
    while sent < total:
        piece = block[: min(CHUNK, total - sent)]
        md5.update(piece)
        sent += len(piece)
        yield piece


def test_a_1_gib_upload_and_download_stream_in_bounded_memory(
    server: tuple[Running, int],
) -> None:
    cloud, pid = server
    headers = {"X-Auth-Token": _admin_token(cloud)}
    base = f"{cloud.url}/image/v2/images"
    body = {"name": "one-gib", "disk_format": "raw", "container_format": "bare"}
    made = requests.post(base, json=body, headers=headers, timeout=30)
    assert made.status_code == 201, made.text
    image = made.json()["id"]
    # Peak RSS from now on: writing 5 to clear_refs resets VmHWM to the current RSS.
    Path(f"/proc/{pid}/clear_refs").write_text("5")
    before = _memory(pid)["VmRSS"]
    sent_md5 = hashlib.md5(usedforsecurity=False)
    started = time.monotonic()
    uploaded = requests.put(
        f"{base}/{image}/file", data=_generated(GIB, sent_md5), timeout=600,
        headers={**headers, "Content-Type": "application/octet-stream"},
    )  # fmt: skip
    assert uploaded.status_code == 204, uploaded.text
    upload_s = time.monotonic() - started
    shown = requests.get(f"{base}/{image}", headers=headers, timeout=30).json()
    assert (shown["status"], shown["size"]) == ("active", GIB)
    assert shown["checksum"] == sent_md5.hexdigest()

    got_md5, received = hashlib.md5(usedforsecurity=False), 0
    with requests.get(f"{base}/{image}/file", headers=headers, stream=True, timeout=600) as down:
        assert down.status_code == 200
        for chunk in down.iter_content(CHUNK):
            got_md5.update(chunk)
            received += len(chunk)
    assert (received, got_md5.hexdigest()) == (GIB, shown["checksum"])
    growth = _memory(pid)["VmHWM"] - before
    print(
        f"1 GiB: upload {GIB / upload_s / 1e6:.0f} MB/s, peak RSS growth {growth / 2**20:.1f} MiB"
    )
    assert growth < MEMORY_BOUND, f"the server's peak RSS grew by {growth / 2**20:.1f} MiB"
    assert requests.delete(f"{base}/{image}", headers=headers, timeout=30).status_code == 204
    assert not (cloud.data / "images" / image).exists()


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_an_upload_cut_off_half_way_in_the_real_server(cloud: Running, chunked: bool) -> None:
    headers = {"X-Auth-Token": _admin_token(cloud)}
    base = f"{cloud.url}/image/v2/images"
    body = {"name": "cut-off", "disk_format": "raw", "container_format": "bare"}
    image = requests.post(base, json=body, headers=headers, timeout=30).json()["id"]
    half = b"h" * (8 * CHUNK)
    host, port = cloud.url.removeprefix("http://").split(":")
    framing = "Transfer-Encoding: chunked" if chunked else f"Content-Length: {2 * len(half)}"
    with socket.create_connection((host, int(port))) as conn:
        conn.sendall(
            f"PUT /image/v2/images/{image}/file HTTP/1.1\r\nHost: {host}\r\n"
            f"X-Auth-Token: {headers['X-Auth-Token']}\r\n"
            f"Content-Type: application/octet-stream\r\n{framing}\r\n\r\n".encode()
        )
        conn.sendall(f"{len(half):x}\r\n".encode() + half + b"\r\n" if chunked else half)
        deadline = time.monotonic() + 10
        while (
            requests.get(f"{base}/{image}", headers=headers, timeout=30).json()["status"]
            != "saving"
        ):
            assert time.monotonic() < deadline, "the upload never started"
            time.sleep(0.05)
    deadline = time.monotonic() + 10
    while (shown := requests.get(f"{base}/{image}", headers=headers, timeout=30).json())[
        "status"
    ] != "queued":
        assert time.monotonic() < deadline, f"the image stayed {shown['status']}"
        time.sleep(0.05)
    assert (shown["size"], shown["checksum"]) == (None, None)
    assert not list((cloud.data / "images").rglob(f"{image}*"))
    assert "unhandled error" not in cloud.stderr_path.read_text()
    requests.delete(f"{base}/{image}", headers=headers, timeout=30)


def test_create_by_interoperable_import(cloud: Running, tmp_path: Path) -> None:
    payload = tmp_path / "imported.raw"
    payload.write_bytes(hashlib.sha512(b"import").digest() * 20_000)
    made = cloud.json(
        "image", "create", "--import", "--file", str(payload), "--disk-format", "raw",
        "--container-format", "bare", "imported", cloud="cairn-demo",
    )  # fmt: skip
    assert isinstance(made, dict)
    shown = show(cloud, "imported", who="cairn-demo")
    assert (shown["status"], shown["size"]) == ("active", payload.stat().st_size)
    assert shown["checksum"] == hashlib.md5(payload.read_bytes()).hexdigest()
    cloud.openstack("image", "delete", "imported", cloud="cairn-demo")
