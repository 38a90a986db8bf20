"""Server actions on real guests: snapshot (``createImage``), rebuild and resize.

    python -m bench.compute --actions N      (or python -m bench.compute_actions N)

Starts plain ``cairn up`` (SQLite, one compute host on ``qemu:///system``, the
default guest image, no network agent) in a fresh data directory, and uploads
a bench image: ``--disk-mb`` (256 by default) of random data as qcow2, booted
with the default guest's kernel and ramdisk, so that a snapshot has that much
to copy (the default image's disk is almost empty). Then, N times: boots an
m1.nano guest from it and waits for its heartbeat
on the console (the guest really runs); snapshots it, timing the request to
the image being ``active``, beside the reference measured right after on the
same disk: ``qemu-img convert -U -O qcow2`` of the guest's disk file alone
(the part of a snapshot that is pure copying); rebuilds it from its snapshot,
timing the request to ACTIVE again (old guest and disk gone, a new one defined
and started); resizes it to m1.micro, timing the request to VERIFY_RESIZE
(the guest shut down, its disk set aside and copied, a guest with the new
flavor defined and started), reverts, timing ``revertResize`` to ACTIVE (the
old guest back), resizes again and confirms, timing ``confirmResize`` to
ACTIVE (the old disk dropped, the old claim released); deletes the server and
the image. Prints each round and the medians. Figures only; nothing is
asserted.
"""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import aiohttp
import yaml

from bench.compute import BIN, REPO, Connection, free_port, token


async def _wait(check: Any, what: str, timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.02)


async def _status(c: Connection, headers: dict[str, str], server_id: str) -> str:
    status, shown = await c.request("GET", f"/compute/v2.1/servers/{server_id}", headers)
    if status != 200:
        return f"HTTP {status}"
    if shown["server"]["status"] == "ERROR":
        raise RuntimeError(f"server {server_id} failed: {shown['server'].get('fault')}")
    return str(shown["server"]["status"])


async def _console(c: Connection, headers: dict[str, str], server_id: str) -> str:
    body = {"os-getConsoleOutput": {"length": 20}}
    status, answer = await c.request(
        "POST", f"/compute/v2.1/servers/{server_id}/action", headers, body
    )
    return str(answer.get("output", "")) if status == 200 else ""


def _reference_copy(disk: Path) -> float:
    """Seconds for qemu-img alone to copy the guest's disk as a snapshot does."""
    with tempfile.TemporaryDirectory(prefix="cairn-bench-copy-") as tmp:
        started = time.perf_counter()
        subprocess.run(
            ["qemu-img", "convert", "-U", "-O", "qcow2", str(disk), f"{tmp}/copy.qcow2"],
            check=True,
        )
        return time.perf_counter() - started


async def bench_image(base: str, c: Connection, headers: dict[str, str], size_mb: int) -> str:
    """The bench image: ``size_mb`` of random data (qcow2), the default guest's kernel."""
    status, images = await c.request("GET", "/image/v2/images?name=cairn-guest", headers)
    guest = images["images"][0]
    with tempfile.TemporaryDirectory(prefix="cairn-bench-image-") as tmp:
        raw, disk = Path(tmp) / "disk.raw", Path(tmp) / "disk.qcow2"
        await asyncio.to_thread(raw.write_bytes, os.urandom(size_mb << 20))
        await asyncio.to_thread(
            subprocess.run,
            ["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(disk)],
            check=True,
        )
        document = {"name": "bench-disk", "disk_format": "qcow2", "container_format": "bare",
                    "kernel_id": guest["kernel_id"], "ramdisk_id": guest["ramdisk_id"],
                    "os_command_line": guest.get("os_command_line", "console=ttyS0")}  # fmt: skip
        status, made = await c.request("POST", "/image/v2/images", headers, document)
        if status != 201:
            raise RuntimeError(f"image create refused: {status} {made}")
        data = await asyncio.to_thread(disk.read_bytes)
    async with aiohttp.ClientSession() as session, session.put(
        f"{base}/image/v2/images/{made['id']}/file",
        data=data,
        headers={"X-Auth-Token": headers["X-Auth-Token"],
                 "Content-Type": "application/octet-stream"},
    ) as response:  # fmt: skip
        if response.status != 204:
            raise RuntimeError(f"image upload refused: {response.status}")
    return str(made["id"])


async def _timed_action(
    c: Connection,
    headers: dict[str, str],
    server_id: str,
    action: dict[str, Any],
    until: str,
) -> float:
    """Seconds from the action's request to the server's status ``until``."""
    started = time.perf_counter()
    status, answer = await c.request(
        "POST", f"/compute/v2.1/servers/{server_id}/action", headers, action
    )
    if status not in (202, 204):
        raise RuntimeError(f"{next(iter(action))} refused: {status} {answer}")

    async def reached() -> bool:
        return await _status(c, headers, server_id) == until and await _idle(c, headers, server_id)

    await _wait(reached, f"{until} after {next(iter(action))}")
    return time.perf_counter() - started


async def resizes(c: Connection, headers: dict[str, str], server_id: str) -> dict[str, float]:
    """Resize to m1.micro and revert, then resize again and confirm (seconds each).

    Each resize and revert starts once the guest prints its heartbeat (each
    definition starts a new console log): a guest whose init does not listen
    yet misses the ACPI power button, and the agent then waits out its clean
    shutdown timeout (60 s) before it forces the guest off."""
    grow = {"resize": {"flavorRef": "84"}}

    async def up() -> None:
        await _wait(lambda: _beating(c, headers, server_id), "the guest's heartbeat")

    await up()
    first = await _timed_action(c, headers, server_id, grow, "VERIFY_RESIZE")
    await up()
    revert = await _timed_action(c, headers, server_id, {"revertResize": None}, "ACTIVE")
    await up()
    second = await _timed_action(c, headers, server_id, grow, "VERIFY_RESIZE")
    confirm = await _timed_action(c, headers, server_id, {"confirmResize": None}, "ACTIVE")
    return {"resize": first, "revert": revert, "resize again": second, "confirm": confirm}


async def round_trip(
    c: Connection, headers: dict[str, str], data: Path, index: int, image_id: str
) -> dict[str, float]:
    """One guest: snapshot request -> image active, the qemu-img reference, rebuild ->
    ACTIVE, and the resize figures of :func:`resizes`."""
    body = {"server": {"name": f"bench-{index}", "imageRef": image_id, "flavorRef": "42",
                       "networks": "none"}}  # fmt: skip
    status, made = await c.request("POST", "/compute/v2.1/servers", headers, body)
    if status != 202:
        raise RuntimeError(f"boot refused: {status} {made}")
    server_id = made["server"]["id"]
    await _wait(lambda: _heartbeat(c, headers, server_id), "the guest's heartbeat")
    started = time.perf_counter()
    status, answer = await c.request(
        "POST",
        f"/compute/v2.1/servers/{server_id}/action",
        headers,
        {"createImage": {"name": f"bench-snap-{index}"}},
    )
    if status != 202:
        raise RuntimeError(f"createImage refused: {status} {answer}")
    snapshot_id = answer["image_id"]

    async def active() -> bool:
        _, shown = await c.request("GET", f"/image/v2/images/{snapshot_id}", headers)
        return bool(shown and shown.get("status") == "active")

    await _wait(active, "the snapshot to be active")
    snapshot = time.perf_counter() - started
    disks = list((data / "compute").glob(f"*/instances/{server_id}/disk"))
    reference = await asyncio.to_thread(_reference_copy, disks[0])
    await _wait(lambda: _idle(c, headers, server_id), "the snapshot's task to end")
    started = time.perf_counter()
    status, answer = await c.request(
        "POST",
        f"/compute/v2.1/servers/{server_id}/action",
        headers,
        {"rebuild": {"imageRef": snapshot_id}},
    )
    if status != 202:
        raise RuntimeError(f"rebuild refused: {status} {answer}")
    await _wait(lambda: _active(c, headers, server_id), "the rebuild")
    rebuild = time.perf_counter() - started
    resized = await resizes(c, headers, server_id)
    await c.request("DELETE", f"/compute/v2.1/servers/{server_id}", headers)

    async def gone() -> bool:
        return (await _status(c, headers, server_id)) == "HTTP 404"

    await _wait(gone, "the server to be deleted")
    await c.request("DELETE", f"/image/v2/images/{snapshot_id}", headers)
    return {"snapshot": snapshot, "reference": reference, "rebuild": rebuild, **resized}


async def _heartbeat(c: Connection, headers: dict[str, str], server_id: str) -> bool:
    if await _status(c, headers, server_id) != "ACTIVE":
        return False
    return "HEARTBEAT" in await _console(c, headers, server_id)


async def _beating(c: Connection, headers: dict[str, str], server_id: str) -> bool:
    return "HEARTBEAT" in await _console(c, headers, server_id)


async def _idle(c: Connection, headers: dict[str, str], server_id: str) -> bool:
    _, shown = await c.request("GET", f"/compute/v2.1/servers/{server_id}", headers)
    return shown["server"]["OS-EXT-STS:task_state"] is None


async def _active(c: Connection, headers: dict[str, str], server_id: str) -> bool:
    return (await _status(c, headers, server_id)) == "ACTIVE"


async def run(count: int, disk_mb: int = 256) -> None:
    built = await asyncio.create_subprocess_exec(
        str(REPO / "scripts" / "build-guest-image"), stdout=asyncio.subprocess.PIPE
    )
    guest = (await built.communicate())[0].decode().split()[0]
    with tempfile.TemporaryDirectory(prefix="cairn-bench-actions-") as tmp:
        port, data = free_port(), Path(tmp) / "data"
        env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
        command = [str(BIN / "cairn"), "up", "--data-dir", str(data),
                   "--listen", f"127.0.0.1:{port}", "--bcrypt-cost", "4",
                   "--hypervisor", "qemu:///system", "--compute-hosts", "1",
                   "--network-agent", "off", "--guest-dir", str(Path(guest).parent),
                   "--log-level", "warning"]  # fmt: skip
        process = await asyncio.create_subprocess_exec(
            *command, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.DEVNULL
        )
        try:
            assert process.stdout is not None
            while True:
                line = (await asyncio.wait_for(process.stdout.readline(), 120)).decode()
                if not line:
                    raise RuntimeError("the cloud did not start")
                if line.startswith("Cairn is up"):
                    break
            base = f"http://127.0.0.1:{port}"
            clouds = yaml.safe_load((data / "clouds.yaml").read_text())
            admin, _project = (
                await token(base, clouds["clouds"]["cairn-admin"]["auth"]["password"])
            ).split()
            headers = {"X-Auth-Token": admin, "OpenStack-API-Version": "compute 2.100"}
            c = await Connection.open(base)
            figures: list[dict[str, float]] = []
            try:
                image_id = await bench_image(base, c, headers, disk_mb)
                for index in range(count):
                    f = await round_trip(c, headers, data, index, image_id)
                    figures.append(f)
                    print(
                        f"round {index + 1}: snapshot of a running guest {f['snapshot']:6.2f} s "
                        f"(qemu-img convert of the same disk alone {f['reference']:5.2f} s); "
                        f"rebuild to ACTIVE {f['rebuild']:5.2f} s; resize to VERIFY_RESIZE "
                        f"{f['resize']:5.2f} s, revert to ACTIVE {f['revert']:5.2f} s, "
                        f"resize again {f['resize again']:5.2f} s, "
                        f"confirm to ACTIVE {f['confirm']:5.2f} s",
                        flush=True,
                    )
            finally:
                await c.close()
            if figures:
                p50 = {k: statistics.median(f[k] for f in figures) for k in figures[0]}
                resize = statistics.median(
                    x for f in figures for x in (f["resize"], f["resize again"])
                )
                print(
                    f"actions: p50 snapshot of a running guest ({disk_mb} MiB disk) "
                    f"{p50['snapshot']:.2f} s beside qemu-img alone {p50['reference']:.2f} s; "
                    f"p50 rebuild to ACTIVE {p50['rebuild']:.2f} s; p50 resize to VERIFY_RESIZE "
                    f"{resize:.2f} s, confirm to ACTIVE {p50['confirm']:.2f} s, revert to "
                    f"ACTIVE {p50['revert']:.2f} s ({len(figures)} guests)",
                    flush=True,
                )
        finally:
            process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(process.wait(), 60)


if __name__ == "__main__":
    asyncio.run(run(int(sys.argv[1]) if len(sys.argv) > 1 else 3))
