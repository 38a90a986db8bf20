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
Nothing holds a whole image in memory: chunks are gathered into batches of
about :data:`BUFFER` bytes, hashed and written by two threads (:class:`_Lanes`),
a few batches in flight while the next fills.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import secrets
import uuid
from collections import deque
from collections.abc import AsyncIterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from cairn.image import qcow2
from cairn.image.errors import QuotaExceeded
from cairn.logs import get_logger
from cairn.projections.image import ImageData

NODE_FILE = ".node"
#: Bytes gathered before one hand-off to the writer threads.
BUFFER = 4 * 1024 * 1024
#: Batches queued for the threads before the event loop waits for them.
AHEAD = 2
#: Most chunks in one hand-off (writev takes at most IOV_MAX buffers, 1024 on Linux).
MAX_BATCH = 512
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

    def digest(self, chunks: list[bytes]) -> None:
        if len(self.head) < qcow2.HEADER_BYTES:
            self.head += b"".join(chunks)[: qcow2.HEADER_BYTES - len(self.head)]
        for chunk in chunks:
            self.md5.update(chunk)

    def write(self, chunks: list[bytes]) -> None:
        offset = self.size
        for chunk in chunks:
            self.sha.update(chunk)
        size = sum(len(chunk) for chunk in chunks)
        views = [memoryview(chunk) for chunk in chunks]
        while views:  # writev may write less than asked: go on from where it stopped
            written = os.writev(self.fd, views)
            while views and written >= len(views[0]):
                written -= len(views[0])
                views.pop(0)
            if views and written:
                views[0] = views[0][written:]
        self.size += size
        # Start writing this block back now (DONTNEED starts an asynchronous
        # writeback of dirty pages), so the final fsync has little left to do,
        # and drop the pages of a block written a while ago, clean by now: an
        # upload does not push the rest of the page cache out.
        os.posix_fadvise(self.fd, offset, size, os.POSIX_FADV_DONTNEED)
        if offset >= EVICT_BEHIND:
            os.posix_fadvise(self.fd, offset - EVICT_BEHIND, size, os.POSIX_FADV_DONTNEED)

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
        #: this store's name in events (``ImageUploadStarted.node``), kept in ``.node``
        self.node = ""

    def prepare(self) -> int:
        """Create the directories and the store's name; remove what interrupted
        uploads left. Returns how many files that was."""
        for directory in (self.root, self.tmp, self.staging):
            directory.mkdir(parents=True, exist_ok=True)
        name = self.root / NODE_FILE
        if not name.exists():
            name.write_text(uuid.uuid4().hex + "\n")
        self.node = name.read_text().strip()
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
        lanes = _Lanes(sink)
        try:
            # Chunks are handed over as a list (no copy on the event loop's thread),
            # about BUFFER bytes at a time.
            batch: list[bytes] = []
            batched = received = 0
            async for chunk in chunks:
                received += len(chunk)
                if max_bytes is not None and received > max_bytes:
                    raise QuotaExceeded(
                        f"The upload passed the {max_bytes} bytes left in the project's quota."
                    )
                batch.append(chunk)
                batched += len(chunk)
                if batched >= BUFFER or len(batch) >= MAX_BATCH:
                    await lanes.submit(batch)
                    batch, batched = [], 0
            if batch:
                await lanes.submit(batch)
            await lanes.drain()
            data = await asyncio.to_thread(sink.finish)
            await asyncio.to_thread(_install, tmp, dest)
            return data
        except BaseException:
            # the threads must be done with the file before it goes
            await asyncio.shield(lanes.stop())
            await asyncio.shield(asyncio.to_thread(sink.discard))
            raise
        finally:
            lanes.close()

    async def adopt(self, source: Path, dest: Path) -> None:
        """Move a complete file (staged data) into place, durably."""
        await asyncio.to_thread(_install, source, dest)

    async def remove(self, image_id: str) -> None:
        """Free an image's bytes (active and staged), if there are any."""

        def unlink() -> None:
            for path in (self.path(image_id), self.staged_path(image_id)):
                path.unlink(missing_ok=True)

        await asyncio.to_thread(unlink)


class _Lanes:
    """Two single-thread lanes for one upload: md5 in one, sha512 and the writes in
    the other. Each lane takes batches in order; the event loop waits only when
    :data:`AHEAD` batches are queued, so reading the socket goes on while the
    threads work, and memory stays bounded (``AHEAD + 1`` batches)."""

    def __init__(self, sink: _Sink) -> None:
        self.sink = sink
        self.digester = ThreadPoolExecutor(1, thread_name_prefix="cairn-image-md5")
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="cairn-image-write")
        self.queued: deque[tuple[asyncio.Future[None], asyncio.Future[None]]] = deque()

    async def submit(self, batch: list[bytes]) -> None:
        loop = asyncio.get_running_loop()
        self.queued.append((
            loop.run_in_executor(self.digester, self.sink.digest, batch),
            loop.run_in_executor(self.writer, self.sink.write, batch),
        ))  # fmt: skip
        while len(self.queued) > AHEAD:
            await self._oldest()

    async def _oldest(self) -> None:
        pair = self.queued.popleft()
        await asyncio.wait(pair)
        for future in pair:
            future.result()  # what a lane raised

    async def drain(self) -> None:
        while self.queued:
            await self._oldest()

    async def stop(self) -> None:
        """Wait for what is queued, ignoring its failures."""
        pending = [future for pair in self.queued for future in pair]
        self.queued.clear()
        if pending:
            await asyncio.wait(pending)
            for future in pending:  # retrieved, so asyncio does not report them
                if not future.cancelled():
                    future.exception()

    def close(self) -> None:
        self.digester.shutdown(wait=False)
        self.writer.shutdown(wait=False)


def _install(source: Path, dest: Path) -> None:
    os.replace(source, dest)
    fd = os.open(dest.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
