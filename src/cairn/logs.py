"""Logging: structlog for our own code, the same output for the libraries'.

:func:`configure` sends every log line to stderr (stdout is for what a command
prints on purpose), either rendered for people (``console``) or as one JSON
object a line (``json``). Libraries that use the standard :mod:`logging`
module (aiohttp, asyncio, asyncpg, aio-pika) go through the same processors,
so one process writes one format: structlog hands its events to the
standard library's handler, whose formatter renders both kinds. Context bound with
:func:`structlog.contextvars.bind_contextvars` (the HTTP edge binds
``request_id``) appears on every line logged while it is bound.
"""

from __future__ import annotations

import logging
import sys
from typing import Any, TextIO

import structlog
from structlog.typing import Processor

# Libraries that say too much at INFO; they log at WARNING and above unless
# the level asked for is DEBUG.
_CHATTY = ("aio_pika", "aiormq", "asyncio", "alembic.runtime.plugins")


def _shared_processors() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]


def _renderer(fmt: str, stream: TextIO) -> Processor:
    if fmt == "json":
        return structlog.processors.JSONRenderer(default=str)
    if fmt == "console":
        colors = hasattr(stream, "isatty") and stream.isatty()
        return structlog.dev.ConsoleRenderer(
            colors=colors, exception_formatter=structlog.dev.plain_traceback
        )
    raise ValueError(f"unknown log format {fmt!r}: use console or json")


def configure(level: str = "info", fmt: str = "console", *, stream: TextIO | None = None) -> None:
    """Send all logs at ``level`` or above to ``stream`` (stderr) in format ``fmt``.

    ``level`` is a name (``debug``, ``info``, ``warning``, ``error``,
    ``critical``); ``fmt`` is ``console`` or ``json``. Calling it again replaces
    the previous configuration.
    """
    numeric = logging.getLevelName(level.upper())
    if not isinstance(numeric, int):
        raise ValueError(f"unknown log level {level!r}")
    stream = sys.stderr if stream is None else stream
    renderer = _renderer(fmt, stream)
    shared = _shared_processors()
    # Exceptions: JSON gets them as structured data, without the frames' local
    # variables (they may hold credentials); the console renderer formats them
    # itself.
    exc: list[Processor] = (
        [
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            )
        ]
        if fmt == "json"
        else []
    )

    # The standard library's records are rendered by structlog's formatter.
    handler = logging.StreamHandler(stream)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=shared,
            processors=[
                structlog.stdlib.ProcessorFormatter.remove_processors_meta,
                *exc,
                renderer,
            ],
        )
    )
    root = logging.getLogger()
    for old in [h for h in root.handlers if getattr(h, "_cairn", False)]:
        root.removeHandler(old)
    handler._cairn = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(numeric)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(numeric if numeric <= logging.DEBUG else logging.WARNING)
    # The HTTP edge writes its own structured access log (cairn.api.accesslog).
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)

    # Our own lines are filtered early (a debug call costs nearly nothing when
    # it is off), then handed to the handler above for rendering.
    structlog.configure(
        processors=[*shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.stdlib.LoggerFactory(),
        cache_logger_on_first_use=False,
    )


def get_logger(name: str, **initial: Any) -> structlog.typing.FilteringBoundLogger:
    """A logger whose lines carry ``logger=name`` (use ``__name__``)."""
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger(name, **initial)
    return logger
