"""The image port on local files: images kept in a directory, or handed over as paths.

For tests, and for a compute host that boots a fixed set of images without an
image service. In a directory, image ``ID`` is the file ``ID`` described by
``ID.json``, a Glance v2 image document (``disk_format``, ``kernel_id``,
``ramdisk_id``, ``os_command_line``...; the same shape the HTTP API returns).
"""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from cairn.agents.compute.images import ImageError, ImageInfo, ImageNotFound, ImageSource
from cairn.agents.compute.images_glance import image_info


class LocalImageSource(ImageSource):
    """Images as ``{image id: (file, description)}``."""

    def __init__(self, images: Mapping[str, tuple[Path, ImageInfo]]) -> None:
        self._images = dict(images)

    @classmethod
    def from_directory(cls, directory: Path) -> LocalImageSource:
        """Every ``ID.json`` in ``directory`` with its data file ``ID`` next to it."""
        images = {}
        for meta in sorted(directory.glob("*.json")):
            document = json.loads(meta.read_text())
            info = image_info(document)
            images[info.id] = (directory / info.id, info)
        return cls(images)

    def add(self, path: Path, info: ImageInfo) -> None:
        self._images[info.id] = (path, info)

    async def info(self, image_id: str) -> ImageInfo:
        try:
            path, info = self._images[image_id]
        except KeyError:
            raise ImageNotFound(image_id) from None
        if info.size is None and path.exists():
            info = replace(info, size=path.stat().st_size)
        return info

    async def download(self, image_id: str, dest: Path) -> None:
        try:
            path, _ = self._images[image_id]
        except KeyError:
            raise ImageNotFound(image_id) from None
        try:
            await asyncio.to_thread(shutil.copyfile, path, dest)
        except FileNotFoundError:
            raise ImageError(f"image {image_id} has no data ({path} is missing)") from None

    async def close(self) -> None:
        """Nothing to release: files are opened per download."""
