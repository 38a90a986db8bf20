"""The volume agent's image client: the compute agent's Glance client (one client
per remote service), with the upload an ``os-volume_upload_image`` needs.

``PUT {image endpoint}/v2/images/{id}/file`` streams a file into a queued image,
as the cloud's admin (the image belongs to the user who asked for the upload;
admins may fill any image). A 401 renews the token once.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote

import aiohttp

from cairn.agents.compute.images import ImageError, ImageUnavailable
from cairn.agents.compute.images_glance import GlanceImageSource

CHUNK = 1 << 20


class GlanceImageStore(GlanceImageSource):
    async def upload(self, image_id: str, source: Path) -> None:
        session = self._client()
        for attempt in (1, 2):
            token = await self.auth.token(session)
            base = self._endpoint or token.endpoint("image")
            if base is None:
                raise ImageError("the service catalog has no image endpoint")
            url = f"{base}/v2/images/{quote(image_id, safe='')}/file"
            headers = {"X-Auth-Token": token.value, "Content-Type": "application/octet-stream"}
            try:
                async with session.put(url, data=_chunks(source), headers=headers) as response:
                    if response.status == 401 and attempt == 1:
                        self.auth.invalidate()
                        continue
                    if response.status >= 300:
                        text = (await response.text())[:200]
                        raise ImageError(f"the image service answered {response.status}: {text}")
                    return
            except aiohttp.ClientError as exc:
                raise ImageUnavailable(f"uploading image {image_id}: {exc}") from exc


async def _chunks(source: Path) -> AsyncIterator[bytes]:
    f = await asyncio.to_thread(source.open, "rb")
    try:
        while chunk := await asyncio.to_thread(f.read, CHUNK):
            yield chunk
    finally:
        await asyncio.to_thread(f.close)
