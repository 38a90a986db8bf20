"""The access log: one structured line per HTTP response.

aiohttp calls :meth:`AccessLog.log` after a response has been written, so the
duration covers sending the body and ``bytes`` is what was really sent, for
streamed bodies too. The runtime installs it with
``AppRunner(app, access_log_class=AccessLog)``; see :data:`RUNNER_OPTIONS`.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from cairn.api.keys import REQUEST_ID
from cairn.logs import get_logger

log = get_logger("cairn.access")


class AccessLog(AbstractAccessLogger):
    """Logs ``method path status duration_ms bytes request_id remote user_agent``.

    ``bytes`` counts everything sent for the response, headers included (as
    Apache's ``%O``), which is exact for streamed bodies too. The path is
    logged without its query string, which may carry secrets (signed object
    URLs).
    """

    def log(self, request: web.BaseRequest, response: web.StreamResponse, time: float) -> None:
        log.info(
            "request",
            method=request.method,
            path=request.path,
            status=response.status,
            duration_ms=round(time * 1000, 3),
            bytes=response.body_length,
            request_id=request.get(REQUEST_ID, "-"),
            remote=request.remote,
            user_agent=request.headers.get("User-Agent", "-"),
        )

    @property
    def enabled(self) -> bool:
        return True


# Keyword arguments for aiohttp's AppRunner (and the test server) that the
# HTTP edge relies on.
RUNNER_OPTIONS: dict[str, Any] = {"access_log_class": AccessLog}
