"""The ``name`` filter of the server listing: a regular expression, kept cheap.

Nova matches ``name`` as a regular expression, and Python's ``re`` has no time
limit: a pattern such as ``(a|aa)*$`` or ``a*a*a*a*x`` backtracks for seconds
on one server name, and the listing runs on the event loop that serves every
service. So a pattern is used as a regular expression only when its shape
cannot blow up: at most :data:`MAX_REPEATS` repetitions, none nested in
another and none over an alternation, no backreference or lookaround. Any
other pattern matches as a plain substring (what a client asking ``name=web``
means anyway). Patterns longer than a name may be (255) are refused.
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any

from cairn.api.faults import HTTPFault

MAX_LENGTH = 255
#: Two repetitions cost at most ~n³ steps on an n-character name (a few
#: milliseconds for 255); three already cost a fifth of a second.
MAX_REPEATS = 2

_REPEATS = frozenset({"MAX_REPEAT", "MIN_REPEAT", "POSSESSIVE_REPEAT"})
_UNSAFE = frozenset({"GROUPREF", "GROUPREF_EXISTS", "GROUPREF_IGNORE", "ASSERT", "ASSERT_NOT"})
# CPython's own parser of ``re`` (private, hence looked up, not imported typed)
_parser: Any = importlib.import_module("re._parser")


def name_matcher(pattern: str) -> Callable[[str], bool]:
    """A test of a server name for the ``name`` filter ``pattern``."""
    if len(pattern) > MAX_LENGTH:
        raise HTTPFault.bad_request(f"Invalid filter name: longer than {MAX_LENGTH} characters")
    try:
        compiled = re.compile(pattern)
        safe = _is_safe(_parser.parse(pattern))
    except (re.error, RecursionError, OverflowError):
        raise HTTPFault.bad_request(
            f"Invalid filter name: {pattern!r} is not a regular expression"
        ) from None
    if safe:
        return lambda name: compiled.search(name) is not None
    return lambda name: pattern in name


def _is_safe(parsed: Any) -> bool:
    repeats = 0

    def walk(items: Any, in_repeat: bool) -> bool:
        nonlocal repeats
        for op, arg in items:
            kind = str(op)
            if kind in _UNSAFE:
                return False
            if kind in _REPEATS:
                repeats += 1
                if in_repeat or repeats > MAX_REPEATS or not walk(arg[2], True):
                    return False
            elif kind == "BRANCH":
                if in_repeat or not all(walk(branch, in_repeat) for branch in arg[1]):
                    return False
            elif kind in ("SUBPATTERN", "ATOMIC_GROUP") and not walk(
                arg[-1] if kind == "SUBPATTERN" else arg, in_repeat
            ):
                return False
        return True

    return walk(parsed, False)
