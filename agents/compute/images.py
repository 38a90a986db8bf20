"""The image port: where the compute agent gets the images it boots, and its cache.

A spawn needs the server's image on the host's disk, and for direct kernel
boot the images its ``kernel_id`` / ``ramdisk_id`` properties name (as Nova's
libvirt driver does). :class:`ImageSource` is the port: describe an image, and
download its data to a file. Two adapters:
:class:`cairn.agents.compute.images_glance.GlanceImageSource` (the image
service's Glance v2 HTTP API, authenticated with a Keystone token) and
:class:`cairn.agents.compute.images_local.LocalImageSource` (files in a
directory, for tests and for hosts without an image service).

:class:`ImageCache` keeps one copy of each image per host
(``<data-dir>/compute/<host>/images/<image id>``). Glance image data never
changes once uploaded, so a cached image is valid forever; it is written to a
temporary file, checked against the image's size and hash, then renamed, so
a crash never leaves a half-written image under its final name.

Errors (all derive from :class:`cairn.errors.CairnError`)::

    ImageError
    ├── ImageNotFound      the source has no such image (or it is not the caller's to see)
    ├── ImageUnavailable   the source cannot be reached or failed; retry later
    └── ImageCorrupt       the data does not match the image's size or hash
"""

from __future__ import annotations

import abc
import asyncio
import contextlib
import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from cairn.errors import CairnError

# -- errors -------------------------------------------------------------------------


class ImageError(CairnError):
    """Base of image errors; on its own: the image cannot be used (no data, bad format)."""


class ImageNotFound(ImageError):
    def __init__(self, image_id: str) -> None:
        super().__init__(f"image {image_id} was not found")
        self.image_id = image_id


class ImageUnavailable(ImageError):
    """The image source cannot be reached, or answered with a server error."""


class ImageCorrupt(ImageError):
    """The downloaded data does not match the size or hash the image declares."""


# -- values -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What the agent needs to know of an image (Glance v2's fields)."""

    id: str
    name: str = ""
    status: str = "active"
    disk_format: str = ""
    container_format: str = ""
    #: Bytes of data; None when the image has none (yet).
    size: int | None = None
    #: Glance's legacy MD5 ``checksum`` and its multihash (``os_hash_algo`` / ``os_hash_value``).
    checksum: str | None = None
    os_hash_algo: str | None = None
    os_hash_value: str | None = None
    #: Additional properties (``kernel_id``, ``ramdisk_id``, ``os_command_line``...).
    properties: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ImageInfo:
        return cls(**json.loads(text))


@dataclass(frozen=True, slots=True)
class CachedImage:
    info: ImageInfo
    path: Path


# -- the port -----------------------------------------------------------------------


class ImageSource(abc.ABC):
    """The port. Adapters are named ``<Tech>ImageSource``."""

    @abc.abstractmethod
    async def info(self, image_id: str) -> ImageInfo:
        """The image's description. Raises :class:`ImageNotFound` or :class:`ImageUnavailable`."""

    @abc.abstractmethod
    async def download(self, image_id: str, dest: Path) -> None:
        """Write the image's data to ``dest`` (created or truncated). Raises as
        :meth:`info` does, and :class:`ImageError` when the image has no data.
        A failed or cancelled download may leave ``dest`` partly written: the
        caller owns it and removes it."""

    async def upload(self, image_id: str, path: Path) -> None:
        """Give the queued image ``image_id`` the data of ``path`` (a server's
        snapshot). Raises :class:`ImageError` when the source cannot take data."""
        raise ImageError(f"{type(self).__name__} cannot take image data")

    async def delete(self, image_id: str) -> None:
        """Delete an image whose upload will not happen (idempotent)."""
        raise ImageError(f"{type(self).__name__} cannot delete images")

    @abc.abstractmethod
    async def close(self) -> None:
        """Release connections. Idempotent."""


# -- the cache ----------------------------------------------------------------------

_CHUNK = 1 << 20


def _hash_file(path: Path, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with path.open("rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _verify(path: Path, info: ImageInfo) -> None:
    """Raise :class:`ImageCorrupt` unless ``path`` holds what ``info`` declares."""
    size = path.stat().st_size
    if info.size is not None and size != info.size:
        raise ImageCorrupt(f"image {info.id}: downloaded {size} bytes, it declares {info.size}")
    if info.os_hash_algo and info.os_hash_value:
        try:
            actual = _hash_file(path, info.os_hash_algo)
        except ValueError:  # an algorithm hashlib does not know: fall back to MD5
            actual = None
        if actual is not None and actual != info.os_hash_value:
            raise ImageCorrupt(f"image {info.id}: its {info.os_hash_algo} hash does not match")
        if actual is not None:
            return
    if info.checksum and _hash_file(path, "md5") != info.checksum:
        raise ImageCorrupt(f"image {info.id}: its MD5 checksum does not match")


def _fsync_and_rename(temp: Path, final: Path) -> None:
    with temp.open("rb") as f:
        os.fsync(f.fileno())
    os.replace(temp, final)
    _fsync_directory(final.parent)  # the rename itself survives a crash


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_durably(path: Path, text: str) -> None:
    """``text`` as ``path``, whole or not at all: a temporary file, fsynced, renamed."""
    temp = path.with_name(f".{path.name}.part")
    try:
        with temp.open("w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        _fsync_and_rename(temp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            temp.unlink()


class ImageCache:
    """One host's copies of images, in ``directory``; fetches each image once,
    also when several spawns ask for it at the same time."""

    def __init__(self, directory: Path, source: ImageSource) -> None:
        self.directory = directory
        self.source = source
        self._locks: dict[str, asyncio.Lock] = {}
        #: Images known to be on disk: a spawn of a cached image touches no file.
        self._known: dict[str, CachedImage] = {}

    def path(self, image_id: str) -> Path:
        if not image_id or "/" in image_id or image_id.startswith("."):
            raise ImageError(f"{image_id!r} is not an image id")
        return self.directory / image_id

    async def fetch(self, image_id: str) -> CachedImage:
        """The image on local disk, downloading it first if it is not cached."""
        known = self._known.get(image_id)
        if known is not None:
            return known
        path = self.path(image_id)
        meta = path.with_name(f"{image_id}.json")
        lock = self._locks.setdefault(image_id, asyncio.Lock())
        async with lock:
            cached = await asyncio.to_thread(_read_cached, path, meta)
            if cached is not None:
                self._known[image_id] = cached
                return cached
            info = await self.source.info(image_id)
            if info.status != "active":
                raise ImageError(f"image {image_id} is {info.status}, not active")
            await asyncio.to_thread(self.directory.mkdir, parents=True, exist_ok=True)
            temp = path.with_name(f".{image_id}.part")
            try:
                if info.size == 0:  # an image of properties only (a kernel-boot stub)
                    await asyncio.to_thread(temp.write_bytes, b"")
                else:
                    await self.source.download(image_id, temp)
                await asyncio.to_thread(_verify, temp, info)
                await asyncio.to_thread(_write_durably, meta, info.to_json())
                await asyncio.to_thread(_fsync_and_rename, temp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    temp.unlink()
            cached = self._known[image_id] = CachedImage(info, path)
            return cached


def _read_cached(path: Path, meta: Path) -> CachedImage | None:
    if not path.exists() or not meta.exists():
        return None
    try:
        info = ImageInfo.from_json(meta.read_text())
    except (ValueError, TypeError):  # torn by a crash (written in place before): fetch again
        return None
    return CachedImage(info, path)
