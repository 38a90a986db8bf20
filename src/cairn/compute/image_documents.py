"""The image documents port: Glance v2 image documents for Nova's image proxy
(``/compute/v2.1/images`` before 2.36, image metadata before 2.39).

Unlike :class:`~cairn.compute.images.ImagePort` (one bootable image as a
snapshot), this port hands out whole documents, any status, as the token's
holder sees them, and changes their properties. Its adapter,
:class:`GlanceImageDocuments`, shares the HTTP session of the compute
service's :class:`~cairn.compute.images.GlanceImages` (one client per remote
service). Errors are compute's: :class:`NotFound` for an image the caller
cannot see, :class:`ImageUnavailable` when the image service does not answer.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Mapping
from typing import Any

import aiohttp

from cairn.compute.errors import Forbidden, ImageUnavailable, Invalid, NotFound
from cairn.compute.images import CORE_ATTRIBUTES, GlanceImages

Document = dict[str, Any]
PATCH_TYPE = "application/openstack-images-v2.1-json-patch"


def properties(document: Document) -> dict[str, str]:
    """An image's own properties (everything that is not a Glance attribute)."""
    return {
        key: value if isinstance(value, str) else str(value)
        for key, value in document.items()
        if key not in CORE_ATTRIBUTES and value is not None
    }


class ImageDocuments(abc.ABC):
    @abc.abstractmethod
    async def list(self, token: str) -> list[Document]:
        """Every image the token's holder sees, newest first (Glance's order)."""

    @abc.abstractmethod
    async def show(self, token: str, image_id: str) -> Document: ...

    @abc.abstractmethod
    async def delete(self, token: str, image_id: str) -> None: ...

    @abc.abstractmethod
    async def change_properties(
        self, token: str, image_id: str, changes: Mapping[str, str | None]
    ) -> Document:
        """Set the properties given a value, remove those given None; the new document."""


class GlanceImageDocuments(ImageDocuments):
    def __init__(self, glance: GlanceImages) -> None:
        self.glance = glance

    def _url(self, path: str) -> str:
        return f"{self.glance.base_url}/image{path}"

    async def _call(
        self,
        method: str,
        path: str,
        token: str,
        *,
        image_id: str | None = None,
        body: Any = None,
        content_type: str | None = None,
    ) -> Any:
        headers = {"X-Auth-Token": token}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = content_type or "application/json"
        try:
            async with self.glance._client().request(
                method, self._url(path), data=data, headers=headers
            ) as response:
                if response.status == 404 or (response.status == 403 and image_id):
                    raise NotFound("Image not found.")
                if response.status == 403:
                    raise Forbidden((await response.text())[:300])
                if response.status in (400, 409, 413):
                    raise Invalid(f"The image service refused: {(await response.text())[:300]}")
                if response.status >= 300:
                    raise ImageUnavailable(f"the image service answered {response.status}")
                return await response.json() if response.status != 204 else None
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ImageUnavailable(f"the image service did not answer: {exc}") from exc

    async def list(self, token: str) -> list[Document]:
        found: list[Document] = []
        path: str | None = "/v2/images?limit=1000"
        while path:
            page = await self._call("GET", path, token)
            found += page.get("images", [])
            following = page.get("next")
            path = following if following and page.get("images") else None
        return found

    async def show(self, token: str, image_id: str) -> Document:
        document: Document = await self._call(
            "GET", f"/v2/images/{image_id}", token, image_id=image_id
        )
        return document

    async def delete(self, token: str, image_id: str) -> None:
        await self._call("DELETE", f"/v2/images/{image_id}", token, image_id=image_id)

    async def change_properties(
        self, token: str, image_id: str, changes: Mapping[str, str | None]
    ) -> Document:
        current = properties(await self.show(token, image_id))
        ops: list[dict[str, Any]] = []
        for key, value in changes.items():
            if value is None:
                if key in current:
                    ops.append({"op": "remove", "path": f"/{key}"})
            else:
                op = "replace" if key in current else "add"
                ops.append({"op": op, "path": f"/{key}", "value": value})
        if not ops:
            return await self.show(token, image_id)
        path = f"/v2/images/{image_id}"
        document: Document = await self._call(
            "PATCH", path, token, image_id=image_id, body=ops, content_type=PATCH_TYPE
        )
        return document
