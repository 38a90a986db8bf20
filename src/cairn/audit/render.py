"""Answers as a readable table (the default) or JSON (``--format json``)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

#: A cell wider than this is cut, with an ellipsis, in the table (not in JSON).
MAX_CELL = 60


def table(columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> str:
    """Left-aligned columns under a header, numbers right-aligned; '-' for None."""
    rows = list(rows)
    cells = [[_cell(row.get(c)) for c in columns] for row in rows]
    numeric = [_numeric([row.get(c) for row in rows]) for c in columns]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(columns)]
    header = [
        c.upper().rjust(w) if num else c.upper().ljust(w)
        for c, w, num in zip(columns, widths, numeric, strict=True)
    ]
    lines = ["  ".join(header).rstrip()]
    for r in cells:
        parts = [
            v.rjust(w) if num else v.ljust(w) for v, w, num in zip(r, widths, numeric, strict=True)
        ]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _numeric(values: list[Any]) -> bool:
    present = [v for v in values if v is not None]
    return bool(present) and all(type(v) is int for v in present)


def _cell(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return "yes" if value else ""
    if isinstance(value, bytes):
        text = value.hex()
    elif isinstance(value, dict | list):
        text = msgspec.json.encode(value).decode()
    else:
        text = str(value)
    text = text.replace("\n", " ")
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


def to_json(value: Any) -> str:
    """JSON text; bytes are written as hex (hashes read better that way)."""
    return msgspec.json.encode(value, enc_hook=_enc_hook).decode()


def _enc_hook(value: Any) -> Any:
    raise NotImplementedError(f"cannot encode {type(value).__name__}")


def hexify(value: Any) -> Any:
    """``value`` with every bytes object turned into its hex text."""
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {k: hexify(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [hexify(v) for v in value]
    return value
