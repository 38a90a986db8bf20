"""Image data on disk: streamed in, checksummed on the way, fsynced, then renamed.

Layout under ``<data dir>/images``::

    <image id>            the data of an active image (immutable once there)
    staging/<image id>    data staged for an import (glance-direct)
    tmp/<image id>.<rand> an upload in progress; never read, removed on failure
                          and at start (an upload does not survive a restart)

An upload is written to ``tmp/`` while md5, sha512 and the size are computed;
the file is fsynced and renamed into place, and the directory fsynced, only
once every byte arrived. The rename happens before the ``ImageDataUploaded``
event is appended: an image is never ``active`` without its complete file.
Nothing holds a whole image in memory: chunks are gathered into buffers of
:data:`BUFFER` bytes and written (and hashed) in a worker thread, one buffer
in flight while the next fills.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import shutil
from collections.abc import AsyncIterable
from pathlib import Path

from cairn.image import qcow2
from cairn.image.errors import QuotaExceeded
from cairn.logs import get_logger
from cairn.projections.image import ImageData

#: Bytes gathered before one hand-off to the writer threads.
BUFFER = 4 * 1024 * 1024
#: How far behind the write position written pages are dropped from the page cache.
EVICT_BEHIND = 8 * BUFFER
HASH_ALGO = "sha512"

log = get_logger(__name__)


class _Sink:
    """One file being written, with its digests. Its two parts run in two worker
    threads at once (hashlib releases the GIL on large buffers): :meth:`digest`
    computes md5, :meth:`write` sha512 and the write itself."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.sha = hashlib.sha512()
        self.size = 0
        self.head = b""

    def digest(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        if len(self.head) < qcow2.HEADER_BYTES:
            self.head += bytes(view[: qcow2.HEADER_BYTES - len(self.head)])
        self.md5.update(view)

    def write(self, data: bytes | bytearray) -> None:
        view = memoryview(data)
        self.sha.update(view)
        offset = self.size
        while view:
            written = os.write(self.fd, view)
            view = view[written:]
        self.size += len(data)
        # Start writing this block back now (DONTNEED starts an asynchronous
        # writeback of dirty pages), so the final fsync has little left to do,
        # and drop the pages of a block written a while ago, clean by now: an
        # upload does not push the rest of the page cache out.
        os.posix_fadvise(self.fd, offset, len(data), os.POSIX_FADV_DONTNEED)
        if offset >= EVICT_BEHIND:
            os.posix_fadvise(self.fd, offset - EVICT_BEHIND, len(data), os.POSIX_FADV_DONTNEED)

    def finish(self) -> ImageData:
        os.fsync(self.fd)
        os.close(self.fd)
        self.fd = -1
        return ImageData(
            size=self.size, checksum=self.md5.hexdigest(), os_hash_algo=HASH_ALGO,
            os_hash_value=self.sha.hexdigest(), virtual_size=qcow2.virtual_size(self.head),
        )  # fmt: skip

    def discard(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1
        self.path.unlink(missing_ok=True)


class ImageFiles:
    """The directory holding image data."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.tmp = root / "tmp"
        self.staging = root / "staging"

    def prepare(self) -> int:
        """Create the directories; remove what interrupted uploads left. Returns how many."""
        for directory in (self.root, self.tmp, self.staging):
            directory.mkdir(parents=True, exist_ok=True)
        left = list(self.tmp.iterdir())
        for path in left:
            path.unlink(missing_ok=True)
        return len(left)

    def path(self, image_id: str) -> Path:
        return self.root / image_id

    def staged_path(self, image_id: str) -> Path:
        return self.staging / image_id

    async def receive(
        self, chunks: AsyncIterable[bytes], dest: Path, *, max_bytes: int | None = None
    ) -> ImageData:
        """Write ``chunks`` to ``dest`` atomically; their size and digests.

        Raises :class:`QuotaExceeded` once more than ``max_bytes`` arrived, and
        whatever reading ``chunks`` raises; either way nothing is left behind.
        """
        tmp = self.tmp / f"{dest.name}.{secrets.token_hex(4)}"
        sink = await asyncio.to_thread(_Sink, tmp)
        inflight: list[asyncio.Future[None]] = []
        try:
            buffer = bytearray()
            received = 0
            async for chunk in chunks:
                received += len(chunk)
                if max_bytes is not None and received > max_bytes:
                    raise QuotaExceeded(
                        f"The upload passed the {max_bytes} bytes left in the project's quota."
                    )
                buffer += chunk
                if len(buffer) >= BUFFER:
                    await _settle(inflight)
                    inflight = _hand_off(sink, buffer)
                    buffer = bytearray()
            await _settle(inflight)
            if buffer:
                inflight = _hand_off(sink, buffer)
                await _settle(inflight)
            data = await asyncio.to_thread(sink.finish)
            await asyncio.to_thread(_install, tmp, dest)
            return data
        except BaseException:
            if inflight:  # the threads must be done with the file before it goes
                await asyncio.shield(asyncio.wait(inflight))
            await asyncio.shield(asyncio.to_thread(sink.discard))
            raise

    async def adopt(self, source: Path, dest: Path) -> None:
        """Move a complete file (staged data) into place, durably."""
        await asyncio.to_thread(_install, source, dest)

    async def remove(self, image_id: str) -> None:
        """Free an image's bytes (active and staged), if there are any."""

        def unlink() -> None:
            for path in (self.path(image_id), self.staged_path(image_id)):
                path.unlink(missing_ok=True)

        await asyncio.to_thread(unlink)

    async def write_bytes(self, dest: Path, data: bytes) -> ImageData:
        """A small file (the default image's parts) through the same path as uploads."""

        async def one() -> AsyncIterable[bytes]:
            yield data

        return await self.receive(one(), dest)

    def free_bytes(self) -> int:
        return shutil.disk_usage(self.root).free


def _hand_off(sink: _Sink, buffer: bytearray) -> list[asyncio.Future[None]]:
    """Hash and write ``buffer`` in two threads; the futures of both."""
    return [
        asyncio.ensure_future(asyncio.to_thread(sink.digest, buffer)),
        asyncio.ensure_future(asyncio.to_thread(sink.write, buffer)),
    ]


async def _settle(inflight: list[asyncio.Future[None]]) -> None:
    """Wait for both parts of a hand-off; raise what either raised."""
    if inflight:
        await asyncio.wait(inflight)
        for future in inflight:
            future.result()
        inflight.clear()


def _install(source: Path, dest: Path) -> None:
    os.replace(source, dest)
    fd = os.open(dest.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
