"""The volume driver on files made with ``qemu-img`` (Cinder's NFS and generic
file drivers keep volumes the same way), in one pool directory per backend.

Layout under the pool directory::

    volume-<id>      a volume, in the driver's format (qcow2 or raw)
    snapshot-<id>    a snapshot: a full copy of the volume's data, same format
    backups/backup-<id>  a backup, qcow2: all the data, or (incremental) only the
                     clusters that differ from its parent backup, its backing file
    tmp/             files being made; renamed into place only when complete

A snapshot is an independent copy (``qemu-img convert``), not an overlay: a
volume, its snapshots and the volumes made from them can be deleted in any
order, and a copy of a sparse qcow2 or raw file costs only its allocated data
(docs/adr/0017-block-storage.md). Every ``qemu-img`` call runs as a child
process, so nothing blocks the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from pathlib import Path
from typing import Any

from cairn.agents.volume.driver import GIB, SourceMissing, VolumeDriver, VolumeDriverError

FORMATS = ("qcow2", "raw")
#: disk formats of images that qemu-img reads as they are named
READABLE = frozenset({"qcow2", "raw", "vmdk", "vdi", "vhd", "vhdx", "qed"})


async def qemu_img(*args: str) -> str:
    """Run ``qemu-img`` with ``args``; its output, or :class:`VolumeDriverError`."""
    try:
        process = await asyncio.create_subprocess_exec(
            "qemu-img",
            *args,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as exc:
        raise VolumeDriverError(f"cannot run qemu-img: {exc}") from exc
    try:
        out, err = await process.communicate()
    except asyncio.CancelledError:
        with contextlib.suppress(ProcessLookupError):
            process.kill()
        await process.wait()
        raise
    if process.returncode != 0:
        message = err.decode(errors="replace").strip() or f"exit status {process.returncode}"
        raise VolumeDriverError(f"qemu-img {args[0]} failed: {message}")
    return out.decode(errors="replace")


async def image_info(path: Path, fmt: str | None = None) -> dict[str, Any]:
    args = ["info", "--output=json"] + (["-f", fmt] if fmt else []) + [str(path)]
    found: dict[str, Any] = json.loads(await qemu_img(*args))
    return found


class FileVolumeDriver(VolumeDriver):
    name = "file"

    def __init__(self, root: Path, format: str = "qcow2") -> None:
        if format not in FORMATS:
            raise ValueError(f"volume format {format!r} is not one of {', '.join(FORMATS)}")
        self.root = root
        self.format = format
        self.tmp = root / "tmp"

    async def prepare(self) -> None:
        """Make the pool directory and drop what an interrupted operation left."""

        def make() -> None:
            self.tmp.mkdir(parents=True, exist_ok=True)
            for leftover in self.tmp.iterdir():
                leftover.unlink(missing_ok=True)

        await asyncio.to_thread(make)

    async def describe(self) -> tuple[str, float, float]:
        version = (await qemu_img("--version")).split("\n", 1)[0].strip()
        stat = await asyncio.to_thread(os.statvfs, self.root)
        total = stat.f_blocks * stat.f_frsize / GIB
        free = stat.f_bavail * stat.f_frsize / GIB
        return version, round(total, 2), round(free, 2)

    def export_path(self) -> str:
        return str(self.root.resolve())

    def path(self, volume_id: str) -> Path:
        return self.root / f"volume-{volume_id}"

    def backup_path(self, backup_id: str) -> Path:
        return self.root / "backups" / f"backup-{backup_id}"

    async def backup(
        self, backup_id: str, volume_id: str, parent_id: str | None, snapshot_id: str | None = None
    ) -> None:
        source = self.path(volume_id) if snapshot_id is None else self.snapshot_path(snapshot_id)
        await asyncio.to_thread(self.backup_path(backup_id).parent.mkdir, exist_ok=True)

        async def make(tmp: Path) -> None:
            if not await asyncio.to_thread(source.exists):
                raise SourceMissing(f"{source.name} is not in the pool")
            if parent_id is None:
                await qemu_img("convert", "-f", self.format, "-O", "qcow2", str(source), str(tmp))
                return
            parent = self.backup_path(parent_id)
            if not await asyncio.to_thread(parent.exists):
                raise SourceMissing(f"the parent backup {parent.name} is not in the pool")
            # An empty overlay on the volume, then a safe rebase onto the parent:
            # qemu-img compares the two and copies into the overlay exactly the data
            # where the volume differs from the parent backup.
            await qemu_img("create", "-f", "qcow2", "-b", str(source), "-F", self.format, str(tmp))
            await qemu_img("rebase", "-f", "qcow2", "-b", str(parent), "-F", "qcow2", str(tmp))

        await self._make(self.backup_path(backup_id), make)

    async def restore(self, backup_id: str, volume_id: str, size_gb: int) -> None:
        backup = self.backup_path(backup_id)
        target = self.path(volume_id)
        await asyncio.to_thread(self.tmp.mkdir, parents=True, exist_ok=True)
        tmp = self.tmp / f"{target.name}.restore.{uuid.uuid4().hex[:8]}"
        try:
            # a backup's chain (incrementals on their parents) reads as one disk
            await self._copy(backup, "qcow2", size_gb, tmp)
            await asyncio.to_thread(_fsync_rename, tmp, target)  # replaces the old data
        except BaseException:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)
            raise

    async def has_backup(self, backup_id: str) -> bool:
        return await asyncio.to_thread(self.backup_path(backup_id).exists)

    async def delete_backup(self, backup_id: str) -> None:
        await asyncio.to_thread(self.backup_path(backup_id).unlink, missing_ok=True)

    def snapshot_path(self, snapshot_id: str) -> Path:
        return self.root / f"snapshot-{snapshot_id}"

    # -- making files ----------------------------------------------------------------

    async def _make(self, target: Path, make: Any) -> int:
        """Run ``make(tmp)`` to write a file, then rename it to ``target``; the
        bytes it takes on disk. A failure or cancellation leaves no file behind."""
        if await asyncio.to_thread(target.exists):
            return await self._allocated(target)
        await asyncio.to_thread(self.tmp.mkdir, parents=True, exist_ok=True)
        tmp = self.tmp / f"{target.name}.{uuid.uuid4().hex[:8]}"
        try:
            await make(tmp)
            await asyncio.to_thread(_fsync_rename, tmp, target)
        except BaseException:
            await asyncio.to_thread(tmp.unlink, missing_ok=True)
            raise
        return await self._allocated(target)

    async def _allocated(self, path: Path) -> int:
        stat = await asyncio.to_thread(os.stat, path)
        return stat.st_blocks * 512

    async def _copy(self, source: Path, source_format: str, size_gb: int, tmp: Path) -> None:
        if not await asyncio.to_thread(source.exists):
            raise SourceMissing(f"{source.name} is not in the pool")
        info = await image_info(source, source_format)
        virtual = int(info.get("virtual-size") or 0)
        if virtual > size_gb * GIB:
            raise VolumeDriverError(
                f"{source.name} is {virtual} bytes, larger than the volume's {size_gb} GiB"
            )
        await qemu_img("convert", "-f", source_format, "-O", self.format, str(source), str(tmp))
        if virtual < size_gb * GIB:
            await qemu_img("resize", "-f", self.format, str(tmp), f"{size_gb}G")

    async def create_empty(self, volume_id: str, size_gb: int) -> int:
        async def make(tmp: Path) -> None:
            await qemu_img("create", "-f", self.format, str(tmp), f"{size_gb}G")

        return await self._make(self.path(volume_id), make)

    async def create_from_file(
        self, volume_id: str, source: Path, source_format: str, size_gb: int
    ) -> int:
        fmt = source_format if source_format in READABLE else "raw"

        async def make(tmp: Path) -> None:
            await self._copy(source, fmt, size_gb, tmp)

        return await self._make(self.path(volume_id), make)

    async def create_from_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> int:
        async def make(tmp: Path) -> None:
            await self._copy(self.snapshot_path(snapshot_id), self.format, size_gb, tmp)

        return await self._make(self.path(volume_id), make)

    async def clone(self, volume_id: str, source_volume_id: str, size_gb: int) -> int:
        async def make(tmp: Path) -> None:
            await self._copy(self.path(source_volume_id), self.format, size_gb, tmp)

        return await self._make(self.path(volume_id), make)

    async def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        source = self.path(volume_id)

        async def make(tmp: Path) -> None:
            if not await asyncio.to_thread(source.exists):
                raise SourceMissing(f"{source.name} is not in the pool")
            await qemu_img("convert", "-f", self.format, "-O", self.format, str(source), str(tmp))

        await self._make(self.snapshot_path(snapshot_id), make)

    # -- changing and removing -------------------------------------------------------

    async def extend(self, volume_id: str, size_gb: int) -> None:
        path = self.path(volume_id)
        if not await asyncio.to_thread(path.exists):
            raise SourceMissing(f"{path.name} is not in the pool")
        if await self.size_of(volume_id) >= size_gb * GIB:
            return  # already done (an extend repeated after a crash)
        await qemu_img("resize", "-f", self.format, str(path), f"{size_gb}G")

    async def export(self, volume_id: str, disk_format: str, dest: Path) -> None:
        source = self.path(volume_id)
        if not await asyncio.to_thread(source.exists):
            raise SourceMissing(f"{source.name} is not in the pool")
        if disk_format not in READABLE:
            raise VolumeDriverError(f"qemu-img cannot write the disk format {disk_format!r}")
        out = "vpc" if disk_format == "vhd" else disk_format
        await qemu_img("convert", "-f", self.format, "-O", out, str(source), str(dest))

    async def delete(self, volume_id: str) -> None:
        await asyncio.to_thread(self.path(volume_id).unlink, missing_ok=True)

    async def delete_snapshot(self, snapshot_id: str) -> None:
        await asyncio.to_thread(self.snapshot_path(snapshot_id).unlink, missing_ok=True)

    async def exists(self, volume_id: str) -> bool:
        return await asyncio.to_thread(self.path(volume_id).exists)

    async def size_of(self, volume_id: str) -> int:
        info = await image_info(self.path(volume_id), self.format)
        return int(info["virtual-size"])

    async def inventory(self) -> tuple[set[str], set[str]]:
        def scan() -> tuple[set[str], set[str]]:
            volumes: set[str] = set()
            snapshots: set[str] = set()
            if not self.root.exists():
                return volumes, snapshots
            for entry in self.root.iterdir():
                kind, _, ident = entry.name.partition("-")
                if kind == "volume" and ident:
                    volumes.add(ident)
                elif kind == "snapshot" and ident:
                    snapshots.add(ident)
            return volumes, snapshots

        return await asyncio.to_thread(scan)


def _fsync_rename(tmp: Path, target: Path) -> None:
    """Make ``tmp`` durable, then give it its final name (atomically)."""
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.rename(tmp, target)
    dir_fd = os.open(target.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)
