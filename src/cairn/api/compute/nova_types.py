"""Nova's lenient scalar types: the strings its JSON schemas and query filters accept.

Nova's ``parameter_types.boolean`` takes a JSON boolean or one of a fixed set of
words (``"True"``, ``"on"``, ``"0"``...); its query filters use oslo's
``bool_from_string`` (which adds ``"t"``/``"f"``/``"y"``/``"n"``). Clients
(Tempest among them) send both, so the edge accepts exactly those and nothing
else: any other value is the same 400 Nova gives.
"""

from __future__ import annotations

from typing import Any

from cairn.api.faults import HTTPFault

#: The strings Nova's boolean body parameters accept for true and for false.
TRUE_WORDS = frozenset({"True", "TRUE", "true", "1", "ON", "On", "on", "YES", "Yes", "yes"})
FALSE_WORDS = frozenset({"False", "FALSE", "false", "0", "OFF", "Off", "off", "NO", "No", "no"})

#: oslo.utils' ``bool_from_string``, compared lowercased (query parameters).
QUERY_TRUE = frozenset({"1", "t", "true", "on", "y", "yes"})
QUERY_FALSE = frozenset({"0", "f", "false", "off", "n", "no"})


def body_boolean(field: str, raw: Any) -> bool:
    """A body field typed ``parameter_types.boolean``; 400 for anything else."""
    if isinstance(raw, bool):
        return raw
    if isinstance(raw, str) and raw in TRUE_WORDS | FALSE_WORDS:
        return raw in TRUE_WORDS
    raise HTTPFault.bad_request(
        f"Invalid input for field/attribute {field}. Value: {raw}. "
        f"{raw!r} is not one of the accepted boolean values"
    )


def query_boolean(raw: str) -> bool | None:
    """A query value read as ``bool_from_string(strict=True)``: None when it is neither."""
    lowered = raw.strip().lower()
    if lowered in QUERY_TRUE:
        return True
    if lowered in QUERY_FALSE:
        return False
    return None
