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
import uuid
from collections.abc import Iterable
from typing import Any

import aiohttp

from cairn.compute.errors import ImageUnavailable, Invalid, NotFound, QuotaExceeded
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

    @abc.abstractmethod
    async def create(self, token: str, document: dict[str, Any]) -> str:
        """Create an image (queued, no data yet) as the token's holder, with Glance's
        ``document`` (name, formats, properties); its id. The data comes later
        (a server's snapshot is uploaded by its host's agent). Raises
        :class:`~cairn.compute.errors.ImageUnavailable` when the image service does
        not answer, :class:`~cairn.compute.errors.QuotaExceeded` or
        :class:`~cairn.compute.errors.Invalid` when it refuses."""

    @abc.abstractmethod
    async def delete(self, token: str, image_id: str) -> None:
        """Delete an image made by :meth:`create` that will not get its data
        (idempotent)."""


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

    async def create(self, token: str, document: dict[str, Any]) -> str:
        url = f"{self.base_url}/image/v2/images"
        try:
            async with self._client().post(
                url, json=document, headers={"X-Auth-Token": token}
            ) as response:
                if response.status == 413:
                    raise QuotaExceeded("Quota exceeded for resources: ['images'].", ("images",))
                if 400 <= response.status < 500:
                    text = (await response.text())[:300]
                    raise Invalid(f"The image service refused the snapshot: {text}")
                if response.status != 201:
                    raise ImageUnavailable(f"the image service answered {response.status}")
                made = await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ImageUnavailable(f"the image service did not answer: {exc}") from exc
        return str(made["id"])

    async def delete(self, token: str, image_id: str) -> None:
        url = f"{self.base_url}/image/v2/images/{image_id}"
        try:
            async with self._client().delete(url, headers={"X-Auth-Token": token}) as response:
                if response.status not in (204, 404):
                    raise ImageUnavailable(f"the image service answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ImageUnavailable(f"the image service did not answer: {exc}") from exc

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


class MemoryImages(ImagePort):
    """Images from a dict; each may be limited to the tokens in ``visible_to``."""

    def __init__(self, images: Iterable[ImageSnapshot] = ()) -> None:
        self.images = {image.image_id: image for image in images}
        self.visible_to: dict[str, set[str]] = {}
        #: images made by :meth:`create` (snapshots waiting for their data)
        self.created: dict[str, dict[str, Any]] = {}

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

    async def create(self, token: str, document: dict[str, Any]) -> str:
        """A queued image: kept in :attr:`created` (it is not bootable: no data)."""
        image_id = str(uuid.uuid4())
        self.created[image_id] = dict(document)
        return image_id

    async def delete(self, token: str, image_id: str) -> None:
        self.created.pop(image_id, None)
