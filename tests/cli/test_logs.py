"""logs.configure: everything on stderr, for people (console) or machines (JSON)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from cairn import logs


@pytest.fixture(autouse=True)
def restore_logging() -> Iterator[None]:
    """configure() changes process-wide state: put it back for the other tests."""
    root = logging.getLogger()
    handlers = list(root.handlers)
    names = ["", "aiohttp.access", *logs._CHATTY]
    levels = {name: logging.getLogger(name).level for name in names}
    yield
    structlog.reset_defaults()
    root.handlers[:] = handlers
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_json_lines_from_structlog_and_the_standard_library() -> None:
    stream = io.StringIO()
    logs.configure("info", "json", stream=stream)
    log = logs.get_logger("cairn.test")
    with structlog.contextvars.bound_contextvars(request_id="req-1"):
        log.info("server booted", server="abc")
    log.debug("hidden")
    logging.getLogger("aiohttp.server").warning("from %s", "aiohttp")
    try:
        raise ValueError("boom")
    except ValueError:
        log.exception("it failed")

    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["event"] for line in lines] == ["server booted", "from aiohttp", "it failed"]
    booted, foreign, failed = lines
    assert booted["level"] == "info"
    assert booted["logger"] == "cairn.test"
    assert booted["server"] == "abc"
    assert booted["request_id"] == "req-1"
    assert booted["timestamp"].endswith("Z")
    assert foreign["logger"] == "aiohttp.server"
    assert foreign["level"] == "warning"
    assert failed["level"] == "error"
    [exception] = failed["exception"]
    assert exception["exc_type"] == "ValueError"
    assert "locals" not in exception["frames"][0]


def test_console_lines_for_people() -> None:
    stream = io.StringIO()
    logs.configure("debug", "console", stream=stream)
    logs.get_logger("cairn.test").debug("tick", n=1)
    line = stream.getvalue()
    assert "tick" in line
    assert "n=1" in line
    assert "[cairn.test]" in line
    assert "\x1b[" not in line  # no colours when not writing to a terminal


def test_configuring_again_replaces_the_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    logs.configure("info", "json", stream=first)
    logs.configure("info", "json", stream=second)
    logging.getLogger("x").warning("once")
    assert first.getvalue() == ""
    assert len(second.getvalue().splitlines()) == 1


def test_bad_level_or_format() -> None:
    with pytest.raises(ValueError, match="log level"):
        logs.configure("loud", "json")
    with pytest.raises(ValueError, match="log format"):
        logs.configure("info", "xml")
