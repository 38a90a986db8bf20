"""The image port: "the image this caller may see, as an ImageSnapshot".

The compute API asks it once per boot request and embeds the answer in the
:class:`~cairn.events.compute.ServerCreateRequested` event, so the agent needs
no second lookup and the server keeps describing the image it booted from.

Adapters: :class:`GlanceImages` asks the image service's Glance v2 API over HTTP
with the caller's token (so Glance's own visibility rules apply);
:class:`MemoryImages` answers from a dict, for tests.
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from typing import Any

import aiohttp

from cairn.compute.errors import ImageUnavailable, NotFound
from cairn.events.compute import ImageSnapshot

#: Glance's own image attributes; every other key of an image is a property.
CORE_ATTRIBUTES = frozenset({
    "id", "name", "status", "visibility", "protected", "checksum", "os_hash_algo",
    "os_hash_value", "owner", "size", "virtual_size", "min_ram", "min_disk",
    "disk_format", "container_format", "created_at", "updated_at", "tags", "self",
    "file", "schema", "direct_url", "locations", "os_hidden", "stores",
})  # fmt: skip


class ImagePort(abc.ABC):
    @abc.abstractmethod
    async def get(self, image_id: str, token: str) -> ImageSnapshot:
        """The active image ``image_id`` as the token's holder sees it.

        Raises :class:`~cairn.compute.errors.NotFound` when it does not exist, is
        not visible to the caller, or is not active (it cannot be booted), and
        :class:`~cairn.compute.errors.ImageUnavailable` when the image service
        does not answer."""


def snapshot_of(image: dict[str, Any]) -> ImageSnapshot:
    """An :class:`ImageSnapshot` from a Glance v2 image document."""
    properties = {
        key: value if isinstance(value, str) else str(value)
        for key, value in image.items()
        if key not in CORE_ATTRIBUTES and value is not None
    }
    return ImageSnapshot(
        image_id=str(image["id"]),
        name=str(image.get("name") or ""),
        disk_format=str(image.get("disk_format") or ""),
        min_disk_gb=int(image.get("min_disk") or 0),
        min_ram_mb=int(image.get("min_ram") or 0),
        properties=properties,
    )


class GlanceImages(ImagePort):
    """Asks ``{base_url}/image/v2/images/{id}`` with the caller's token."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def get(self, image_id: str, token: str) -> ImageSnapshot:
        url = f"{self.base_url}/image/v2/images/{image_id}"
        try:
            async with self._client().get(url, headers={"X-Auth-Token": token}) as response:
                if response.status in (403, 404):
                    raise NotFound(f"Image {image_id} could not be found.")
                if response.status != 200:
                    raise ImageUnavailable(
                        f"the image service answered {response.status} for image {image_id}"
                    )
                image = await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ImageUnavailable(f"the image service did not answer: {exc}") from exc
        if image.get("status") != "active":
            raise NotFound(f"Image {image_id} is not active.")
        return snapshot_of(image)

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class MemoryImages(ImagePort):
    """Images from a dict; each may be limited to the tokens in ``visible_to``."""

    def __init__(self, images: Iterable[ImageSnapshot] = ()) -> None:
        self.images = {image.image_id: image for image in images}
        self.visible_to: dict[str, set[str]] = {}

    def add(self, image: ImageSnapshot, *, tokens: Iterable[str] | None = None) -> None:
        self.images[image.image_id] = image
        if tokens is not None:
            self.visible_to[image.image_id] = set(tokens)

    async def get(self, image_id: str, token: str) -> ImageSnapshot:
        image = self.images.get(image_id)
        allowed = self.visible_to.get(image_id)
        if image is None or (allowed is not None and token not in allowed):
            raise NotFound(f"Image {image_id} could not be found.")
        return image
