"""Points: positions and times, and the bits of output around them."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest

from cairn.audit import BadPoint, parse_point
from cairn.audit.progress import Progress
from cairn.audit.render import table, to_json


def test_a_number_is_a_position_and_an_iso_text_a_time() -> None:
    assert parse_point("42") == 42
    assert parse_point("2026-11-21T14:03:00Z") == datetime(2026, 11, 21, 14, 3, tzinfo=UTC)
    plus1 = parse_point("2026-11-21 15:03:00+01:00")
    assert plus1 == datetime(2026, 11, 21, 15, 3, tzinfo=timezone(timedelta(hours=1)))
    local = parse_point("2026-11-21T14:03")
    assert isinstance(local, datetime)
    assert local.tzinfo is not None


@pytest.mark.parametrize("text", ["yesterday", "-3", "14h03", ""])
def test_anything_else_is_a_readable_error(text: str) -> None:
    with pytest.raises(BadPoint, match="neither a position"):
        parse_point(text)


def test_a_table_aligns_columns_and_numbers() -> None:
    text = table(
        ("name", "n", "ok"), [{"name": "a", "n": 5, "ok": True}, {"name": "bbb", "n": 100}]
    )
    assert text.splitlines() == ["NAME    N  OK", "a       5  yes", "bbb   100  -"]


def test_json_writes_bytes_as_hex_only_when_asked() -> None:
    from cairn.audit.render import hexify

    assert to_json(hexify({"h": b"\x01\xff"})) == '{"h":"01ff"}'


def test_progress_off_a_terminal_is_a_plain_line_now_and_then() -> None:
    out = io.StringIO()
    progress = Progress("verify", 1000, stream=out, interval=0.0, tty=False)
    progress(500)
    progress.done()
    assert out.getvalue().startswith("verify: 500 of 1,000 (50%)")
    assert "\r" not in out.getvalue()
    quiet = io.StringIO()
    slow = Progress("verify", 1000, stream=quiet, interval=3600, tty=False)
    slow(500)
    assert quiet.getvalue() == ""


def test_progress_on_a_terminal_redraws_one_bar_and_clears_it() -> None:
    out = io.StringIO()
    progress = Progress("replay", 200, stream=out, tty=True)
    progress.interval = 0.0
    progress(50)
    progress(100)
    progress.done()
    text = out.getvalue()
    assert text.count("\r[") == 2
    assert "[###############" in text
    assert text.endswith("\r\x1b[K")
