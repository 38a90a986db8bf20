"""The image port on the image service's Glance v2 HTTP API.

``GET {image endpoint}/v2/images/{id}`` describes an image (its additional
properties are top-level string keys, as Glance returns them) and
``GET {image endpoint}/v2/images/{id}/file`` streams its data (204: no data).
The endpoint is the ``image`` entry of the token's service catalog (public
interface), or ``endpoint`` when given. Every request carries a Keystone token
(:mod:`cairn.agents.compute.keystone_auth`); a 401 renews it once.

Connection failures and 5xx answers are :class:`ImageUnavailable`, retried
with a short back-off for up to ``retry_for`` seconds (the image service may
still be starting when the agent reconciles its first spawns).
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp

from cairn.agents.compute.images import (
    ImageError,
    ImageInfo,
    ImageNotFound,
    ImageSource,
    ImageUnavailable,
)
from cairn.agents.compute.keystone_auth import AgentSession, CloudsYamlAuth, PasswordAuth

#: Glance v2's own image fields; every other top-level string key is a property.
CORE_FIELDS = frozenset(
    {
        "id",
        "name",
        "status",
        "visibility",
        "protected",
        "os_hidden",
        "checksum",
        "os_hash_algo",
        "os_hash_value",
        "owner",
        "size",
        "virtual_size",
        "min_ram",
        "min_disk",
        "created_at",
        "updated_at",
        "tags",
        "self",
        "file",
        "schema",
        "disk_format",
        "container_format",
        "direct_url",
        "locations",
        "stores",
    }
)


def image_info(document: dict[str, Any]) -> ImageInfo:
    """An :class:`ImageInfo` from a Glance v2 image document."""
    properties = {
        key: value
        for key, value in document.items()
        if key not in CORE_FIELDS and isinstance(value, str)
    }
    size = document.get("size")
    return ImageInfo(
        id=str(document["id"]),
        name=str(document.get("name") or ""),
        status=str(document.get("status") or "active"),
        disk_format=str(document.get("disk_format") or ""),
        container_format=str(document.get("container_format") or ""),
        size=int(size) if size is not None else None,
        checksum=document.get("checksum"),
        os_hash_algo=document.get("os_hash_algo"),
        os_hash_value=document.get("os_hash_value"),
        properties=properties,
    )


class GlanceImageSource(AgentSession, ImageSource):
    def __init__(
        self,
        auth: PasswordAuth | CloudsYamlAuth,
        *,
        endpoint: str | None = None,
        retry_for: float = 30.0,
        timeout: float = 300.0,
    ) -> None:
        self.auth = auth
        self._endpoint = endpoint.rstrip("/") if endpoint else None
        self._retry_for = retry_for
        super().__init__(timeout)

    async def _open(self, image_id: str, suffix: str = "") -> aiohttp.ClientResponse:
        """GET an image URL, retrying while the service is unavailable; returns a 2xx
        response, which the caller releases (``async with``)."""
        session = self._client()
        deadline = time.monotonic() + self._retry_for
        delay = 0.2
        renewed = False
        while True:
            try:
                token = await self.auth.token(session)
                base = self._endpoint or token.endpoint("image")
                if base is None:
                    raise ImageError("the service catalog has no image endpoint")
                url = f"{base}/v2/images/{quote(image_id, safe='')}{suffix}"
                response = await session.get(url, headers={"X-Auth-Token": token.value})
                if response.status < 300:
                    return response
                async with response:
                    if response.status == 401 and not renewed:
                        self.auth.invalidate()
                        renewed = True
                        continue
                    if response.status == 404:
                        raise ImageNotFound(image_id)
                    if response.status >= 500:
                        raise ImageUnavailable(f"the image service answered {response.status}")
                    text = (await response.text())[:200]
                    raise ImageError(f"the image service answered {response.status}: {text}")
            except aiohttp.ClientError as exc:
                failure: ImageUnavailable = ImageUnavailable(f"the image service: {exc}")
            except ImageUnavailable as exc:
                failure = exc
            if time.monotonic() + delay > deadline:
                raise failure
            await asyncio.sleep(delay)
            delay = min(delay * 2, 2.0)

    async def info(self, image_id: str) -> ImageInfo:
        async with await self._open(image_id) as response:
            return image_info(await response.json())

    async def _send(self, method: str, image_id: str, suffix: str, path: Path | None) -> int:
        """One ``method`` on the image's URL (the file's data as the body); its status.
        A 401 renews the token once; the service's refusal is an :class:`ImageError`."""
        session = self._client()
        for renewed in (False, True):
            token = await self.auth.token(session)
            base = self._endpoint or token.endpoint("image")
            if base is None:
                raise ImageError("the service catalog has no image endpoint")
            url = f"{base}/v2/images/{quote(image_id, safe='')}{suffix}"
            headers = {"X-Auth-Token": token.value}
            try:
                if path is None:
                    response = await session.request(method, url, headers=headers)
                else:
                    size = (await asyncio.to_thread(path.stat)).st_size
                    headers["Content-Type"] = "application/octet-stream"
                    headers["Content-Length"] = str(size)
                    body = await asyncio.to_thread(path.open, "rb")
                    try:
                        response = await session.request(method, url, data=body, headers=headers)
                    finally:
                        await asyncio.to_thread(body.close)
            except aiohttp.ClientError as exc:
                raise ImageUnavailable(f"the image service: {exc}") from exc
            async with response:
                if response.status == 401 and not renewed:
                    self.auth.invalidate()
                    continue
                if response.status >= 400 and response.status != 404:
                    text = (await response.text())[:200]
                    raise ImageError(f"the image service answered {response.status}: {text}")
                return response.status
        raise ImageError("the image service kept refusing the agent's token")

    async def upload(self, image_id: str, path: Path) -> None:
        if await self._send("PUT", image_id, "/file", path) == 404:
            raise ImageNotFound(image_id)

    async def delete(self, image_id: str) -> None:
        await self._send("DELETE", image_id, "", None)

    async def download(self, image_id: str, dest: Path) -> None:
        async with await self._open(image_id, "/file") as response:
            if response.status == 204:
                raise ImageError(f"image {image_id} has no data")
            f = await asyncio.to_thread(dest.open, "wb")
            try:
                async for chunk in response.content.iter_chunked(1 << 20):
                    await asyncio.to_thread(f.write, chunk)
            except aiohttp.ClientError as exc:
                raise ImageUnavailable(f"downloading image {image_id}: {exc}") from exc
            finally:
                await asyncio.to_thread(f.close)
