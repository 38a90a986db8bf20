"""``web-download``: an image's data fetched by the image service from a URL.

The import is checked before it is accepted, as Glance's import filtering does:
the scheme is ``http`` or ``https``, the port one of :data:`ALLOWED_PORTS`
(Glance's defaults), and the host must resolve; otherwise a 400 that names the
URI. Then the download runs in the background (the API answered 202): the
response body streams into :meth:`Images.upload`, so the quota, the checksums
and the rule that an image is ``active`` only once its whole file is durable
hold as for an upload. A download that fails (a 4xx/5xx answer, a cut
connection, the quota) puts the image back to ``queued``, with the reason in
the log and in the image's ``ImageUploadFailed`` event.

Downloads are tasks of :class:`WebDownloads`, cancelled and awaited when the
image service stops (a cancelled download is an upload cut off).
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any
from urllib.parse import urlsplit

import aiohttp

from cairn.image.errors import Invalid
from cairn.logs import get_logger

log = get_logger(__name__)

ALLOWED_SCHEMES = ("http", "https")
ALLOWED_PORTS = (80, 443)
RESOLVE_TIMEOUT = 5.0
TIMEOUT = aiohttp.ClientTimeout(total=None, sock_connect=15, sock_read=60)
MAX_URI = 2048

Upload = Callable[[AsyncIterator[bytes]], Awaitable[object]]


async def check_uri(uri: object, ports: tuple[int, ...] = ALLOWED_PORTS) -> str:
    """``uri`` if an import may fetch it; :class:`Invalid` (a 400) if not."""
    if not isinstance(uri, str) or not uri or len(uri) > MAX_URI:
        raise Invalid("web-download needs a 'uri' of at most 2048 characters.")
    try:
        parts = urlsplit(uri)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise Invalid(f"The URI {uri} does not pass filtering: it is not a URL.") from None
    if parts.scheme not in ALLOWED_SCHEMES or not parts.hostname:
        raise Invalid(f"The URI {uri} does not pass filtering: use http or https with a host.")
    if port not in ports:
        raise Invalid(f"The URI {uri} does not pass filtering: port {port} is not allowed.")
    loop = asyncio.get_running_loop()
    try:
        await asyncio.wait_for(
            loop.getaddrinfo(parts.hostname, port, type=socket.SOCK_STREAM), RESOLVE_TIMEOUT
        )
    except (OSError, TimeoutError):
        raise Invalid(
            f"The URI {uri} does not pass filtering: host {parts.hostname} cannot be resolved."
        ) from None
    return uri


async def fetch(uri: str) -> AsyncIterator[bytes]:
    """The body of ``uri``, connected to on the first read: so a failure to
    connect fails the upload that reads it, and is recorded like any other."""
    async with (
        aiohttp.ClientSession(timeout=TIMEOUT) as session,
        session.get(uri, max_redirects=5) as response,
    ):
        if response.status != 200:
            raise Invalid(f"{uri} answered {response.status}.")
        async for chunk in response.content.iter_any():
            yield chunk


class WebDownloads:
    """The downloads in flight, so that a stop ends them."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, image_id: str, uri: str, upload: Upload) -> None:
        self.spawn(self._run(image_id, uri, upload), f"web-download {image_id}")

    def spawn(self, work: Coroutine[Any, Any, None], name: str) -> None:
        """Run ``work`` in the background until it ends or :meth:`stop`."""
        task = asyncio.create_task(work, name=name)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _run(self, image_id: str, uri: str, upload: Upload) -> None:
        try:
            await upload(fetch(uri))
            log.info("web-download done", image_id=image_id)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the upload put the image back to queued
            log.warning("web-download failed", image_id=image_id, uri=uri, reason=str(exc))

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
