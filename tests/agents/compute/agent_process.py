"""``cairn agent compute`` as a child process, and the --image-dir it boots from."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import pytest

from tests.agents.compute.cloud import IMAGE_ID, KERNEL_ID, RAMDISK_ID, guest_images


def image_dir(directory: Path, guest: tuple[Path, Path]) -> Path:
    """The test guest as --image-dir wants it: ID.json (a Glance document) + ID."""
    source = guest_images(directory / "src", *guest)
    directory.mkdir(exist_ok=True)
    for image_id in (KERNEL_ID, RAMDISK_ID, IMAGE_ID):
        path, info = source._images[image_id]
        (directory / image_id).symlink_to(path)
        document = {
            "id": info.id,
            "name": info.name,
            "status": "active",
            "disk_format": info.disk_format,
            "container_format": "bare",
            "size": path.stat().st_size,
            **info.properties,
        }
        (directory / f"{image_id}.json").write_text(json.dumps(document))
    return directory


class AgentProcess:
    """``cairn agent compute`` as a child process; its log goes to a file."""

    def __init__(self, host: str, data: Path, images: Path, *options: str) -> None:
        self.args = [
            "-m", "cairn.cli.main", "agent", "compute", "--host", host,
            "--data-dir", str(data), "--image-dir", str(images), *options,
        ]  # fmt: skip
        self.log = data / f"agent-{host}.log"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable, *self.args, stdout=asyncio.subprocess.PIPE, stderr=log
            )
        assert self.process.stdout is not None
        line = (await asyncio.wait_for(self.process.stdout.readline(), 60)).decode()
        if "is up" not in line:
            pytest.fail(f"the agent did not start: {line!r}\n{self.log.read_text()[-3000:]}")

    async def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()

    async def stop(self) -> int | None:
        """SIGTERM, and the exit status (None if it had already exited)."""
        if self.process is None or self.process.returncode is not None:
            return None
        self.process.send_signal(signal.SIGTERM)
        try:
            return await asyncio.wait_for(self.process.wait(), 30)
        finally:
            if self.process.returncode is None:
                self.process.kill()
                await self.process.wait()
