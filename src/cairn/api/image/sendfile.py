"""Streaming an image file to a client, with ``Range``, reading ahead of the socket.

Worker threads read the next blocks (``pread``, :data:`DEPTH` ahead) while the
event loop sends the current one, so a cold download runs at the speed of the
slower of the two, not of their sum. At most ``DEPTH + 1`` blocks (a few MiB)
are in memory. One byte range is
supported (``bytes=a-b``, ``bytes=a-``, ``bytes=-n``), as Glance does; a range
that cannot be satisfied is a 416 with ``Content-Range: bytes */size``.
"""

from __future__ import annotations

import asyncio
import os
import re
from collections import deque
from pathlib import Path

from aiohttp import web

from cairn.api.faults import HTTPFault

BLOCK = 1024 * 1024
#: Blocks read ahead of the one being sent.
DEPTH = 3
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """``(start, end)`` (end exclusive) asked by a ``Range`` header; ``None``: all."""
    if header is None:
        return None
    match = _RANGE.match(header.strip())
    unsatisfiable = HTTPFault(
        416, f"Invalid or unsatisfiable range {header!r} for {size} bytes.",
        headers={"Content-Range": f"bytes */{size}"},
    )  # fmt: skip
    if match is None or match.groups() == ("", ""):
        raise unsatisfiable
    first, last = match.groups()
    if first == "":  # the last n bytes
        start, end = max(0, size - int(last)), size
    else:
        start, end = int(first), min(size, int(last) + 1) if last else size
    if start >= end or start >= size:
        raise unsatisfiable
    return start, end


async def send_file(request: web.Request, path: Path, size: int,
                    headers: dict[str, str]) -> web.StreamResponse:  # fmt: skip
    wanted = byte_range(request.headers.get("Range"), size)
    start, end = wanted or (0, size)
    response = web.StreamResponse(status=206 if wanted else 200, headers=headers)
    if wanted:
        response.headers["Content-Range"] = f"bytes {start}-{end - 1}/{size}"
    response.headers["Accept-Ranges"] = "bytes"
    response.content_length = end - start
    fd = await asyncio.to_thread(os.open, path, os.O_RDONLY)
    ahead: deque[asyncio.Future[bytes]] = deque()
    try:
        await asyncio.to_thread(os.posix_fadvise, fd, start, end - start, os.POSIX_FADV_SEQUENTIAL)
        await response.prepare(request)
        if request.method == "HEAD":
            return response
        offset = start
        while offset < end or ahead:
            while offset < end and len(ahead) < DEPTH:
                ahead.append(_read(fd, offset, end))
                offset += min(BLOCK, end - offset)
            block = await ahead.popleft()
            if not block:
                raise OSError(f"{path} is shorter than its recorded size")
            await response.write(block)
        await response.write_eof()
        return response
    finally:
        # Reads still running must finish before their descriptor is closed (and reused).
        if ahead:
            await asyncio.shield(asyncio.wait(ahead))
        await asyncio.shield(asyncio.to_thread(os.close, fd))


def _read(fd: int, offset: int, end: int) -> asyncio.Future[bytes]:
    return asyncio.ensure_future(asyncio.to_thread(os.pread, fd, min(BLOCK, end - offset), offset))
