"""The volume documents port: Cinder v3 volumes and snapshots for Nova's volume
proxy (``/os-volumes`` and ``/os-snapshots``, before 2.36).

The adapter, :class:`CinderVolumeDocuments`, asks this cloud's block storage
service over HTTP with the caller's own token (so Cinder's visibility, quota
and validation apply), on the session the compute service already keeps for
the image service. Errors are compute's: :class:`NotFound`, :class:`Invalid`
(Cinder's 400), :class:`QuotaExceeded` (its 413), :class:`ImageUnavailable`
when the service does not answer.
"""

from __future__ import annotations

import abc
import json
from collections.abc import Callable
from typing import Any

import aiohttp

from cairn.compute.errors import Forbidden, ImageUnavailable, Invalid, NotFound, QuotaExceeded

Document = dict[str, Any]


class VolumeDocuments(abc.ABC):
    @abc.abstractmethod
    async def list(self, token: str, kind: str) -> list[Document]:
        """Every ``kind`` (``volumes`` or ``snapshots``) the token's holder sees, in detail."""

    @abc.abstractmethod
    async def show(self, token: str, kind: str, ident: str) -> Document: ...

    @abc.abstractmethod
    async def create(self, token: str, kind: str, document: Document) -> Document: ...

    @abc.abstractmethod
    async def delete(self, token: str, kind: str, ident: str) -> None: ...

    @abc.abstractmethod
    async def action(self, token: str, volume_id: str, name: str, args: Document) -> None:
        """``POST /volumes/{id}/action`` ``{name: args}`` (``os-reserve``, ...)."""


class CinderVolumeDocuments(VolumeDocuments):
    def __init__(self, base_url: str, session: Callable[[], aiohttp.ClientSession]) -> None:
        self.base_url = base_url.rstrip("/")
        self._session = session

    async def _call(self, method: str, path: str, token: str, body: Any = None) -> Any:
        headers = {"X-Auth-Token": token, "OpenStack-API-Version": "volume 3.0"}
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = "application/json"
        url = f"{self.base_url}/volume/v3{path}"
        try:
            async with self._session().request(method, url, data=data, headers=headers) as response:
                if response.status in (200, 201, 202, 204):
                    # a delete's 202 has no body
                    return await response.json() if await response.read() else None
                message = _message(await response.text())
                if response.status == 404:
                    raise NotFound(message)
                if response.status == 413:
                    raise QuotaExceeded(message, ("volumes",))
                if response.status == 403:
                    raise Forbidden(message)
                if 400 <= response.status < 500:
                    raise Invalid(message)
                raise ImageUnavailable(f"the block storage service answered {response.status}")
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise ImageUnavailable(f"the block storage service did not answer: {exc}") from exc

    async def list(self, token: str, kind: str) -> list[Document]:
        found: list[Document] = []
        marker = None
        while True:
            query = f"?limit=1000&marker={marker}" if marker else "?limit=1000"
            page = await self._call("GET", f"/{kind}/detail{query}", token)
            items = page.get(kind, [])
            found += items
            if not items or not page.get(f"{kind}_links"):
                return found
            marker = items[-1]["id"]

    async def show(self, token: str, kind: str, ident: str) -> Document:
        answer = await self._call("GET", f"/{kind}/{ident}", token)
        document: Document = answer[kind[:-1]]
        return document

    async def create(self, token: str, kind: str, document: Document) -> Document:
        answer = await self._call("POST", f"/{kind}", token, {kind[:-1]: document})
        made: Document = answer[kind[:-1]]
        return made

    async def delete(self, token: str, kind: str, ident: str) -> None:
        await self._call("DELETE", f"/{kind}/{ident}", token)

    async def action(self, token: str, volume_id: str, name: str, args: Document) -> None:
        await self._call("POST", f"/volumes/{volume_id}/action", token, {name: args})


def _message(text: str) -> str:
    """The message of a Cinder fault body (``{"itemNotFound": {"message": ...}}``)."""
    try:
        body = json.loads(text)
        (fault,) = body.values()
        return str(fault["message"])
    except (ValueError, TypeError, KeyError, AttributeError):
        return text[:300]
