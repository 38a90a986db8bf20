"""The image port of the volume API: "the image this caller may see, as an ImageRef".

A create with ``imageRef`` asks it once, with the caller's token, so the image
service's own visibility rules decide (an image the caller cannot see is a 404,
as in Cinder), and records what it learnt in the request event: the agent then
fetches the data as the cloud's admin.
"""

from __future__ import annotations

import abc
from urllib.parse import quote

import aiohttp

from cairn.compute.images import CORE_ATTRIBUTES
from cairn.volume.errors import Invalid, NotFound, VolumeError
from cairn.volume.volumes import ImageRef


class ImageUnavailable(VolumeError):
    status = 503


class ImageLookup(abc.ABC):
    @abc.abstractmethod
    async def get(self, image_id: str, token: str) -> ImageRef:
        """The active image ``image_id`` as the token's holder sees it; raises
        :class:`NotFound` (missing or invisible), :class:`Invalid` (not active)
        or :class:`ImageUnavailable` (the image service does not answer)."""

    @abc.abstractmethod
    async def create(self, token: str, attributes: dict[str, object]) -> str:
        """A new, queued image with these attributes, as the token's holder; its id.
        Raises :class:`Invalid` when the image service refuses them."""

    @abc.abstractmethod
    async def delete(self, token: str, image_id: str) -> None:
        """Remove an image (best effort: an upload refused after its image was made)."""

    async def close(self) -> None:
        return None


class GlanceImageLookup(ImageLookup):
    """Asks ``{base_url}/image/v2/images/{id}`` with the caller's token."""

    def __init__(self, base_url: str, *, timeout: float = 10.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = aiohttp.ClientTimeout(total=timeout)
        self._session: aiohttp.ClientSession | None = None

    async def get(self, image_id: str, token: str) -> ImageRef:
        url = f"{self.base_url}/image/v2/images/{quote(image_id, safe='')}"
        try:
            async with self._client().get(url, headers={"X-Auth-Token": token}) as response:
                if response.status in (400, 403, 404):
                    raise NotFound(f"Image {image_id} could not be found.")
                if response.status != 200:
                    raise ImageUnavailable(f"the image service answered {response.status}")
                image = await response.json()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ImageUnavailable(f"the image service did not answer: {exc}") from exc
        if image.get("status") != "active":
            raise Invalid(
                f"Invalid image identifier or unable to access requested image: image "
                f"{image_id} is {image.get('status')}, not active."
            )
        properties = {
            key: value if isinstance(value, str) else str(value)
            for key, value in image.items()
            if key not in CORE_ATTRIBUTES and value is not None
        }
        # Cinder's names for Glance's core fields in volume_image_metadata
        for key, as_key in (
            ("name", "image_name"),
            ("container_format", "container_format"),
            ("min_ram", "min_ram"),
            ("min_disk", "min_disk"),
            ("checksum", "checksum"),
        ):
            if image.get(key) is not None:
                properties[as_key] = str(image[key])
        return ImageRef(
            id=str(image["id"]),
            disk_format=str(image.get("disk_format") or "raw"),
            size=int(image.get("size") or 0),
            virtual_size=int(image["virtual_size"]) if image.get("virtual_size") else None,
            min_disk=int(image.get("min_disk") or 0),
            properties=properties,
        )

    def _client(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout)
        return self._session

    async def create(self, token: str, attributes: dict[str, object]) -> str:
        url = f"{self.base_url}/image/v2/images"
        try:
            async with self._client().post(
                url, json=attributes, headers={"X-Auth-Token": token}
            ) as response:
                body = await response.json(content_type=None)
                if response.status in (400, 403, 409, 413):
                    message = body.get("message") if isinstance(body, dict) else None
                    raise Invalid(f"Invalid image: {message or response.status}")
                if response.status != 201 or not isinstance(body, dict):
                    raise ImageUnavailable(f"the image service answered {response.status}")
                return str(body["id"])
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ImageUnavailable(f"the image service did not answer: {exc}") from exc

    async def delete(self, token: str, image_id: str) -> None:
        url = f"{self.base_url}/image/v2/images/{quote(image_id, safe='')}"
        try:
            async with self._client().delete(url, headers={"X-Auth-Token": token}):
                pass
        except (aiohttp.ClientError, TimeoutError):
            return

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
