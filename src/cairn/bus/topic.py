"""AMQP topic matching, for adapters that route by themselves (the in-process bus).

A routing key and a binding pattern are dot-separated words; the empty string
is no words at all, while ``"a."`` is ``a`` and an empty word. In a pattern,
``*`` matches exactly one word and ``#`` zero or more; any other word matches
itself. This is RabbitMQ's topic exchange (checked against the broker in
tests/bus/test_rabbitmq.py), so both adapters route alike.
"""

from __future__ import annotations

import functools


@functools.lru_cache(maxsize=4096)
def topic_matches(pattern: str, key: str) -> bool:
    """Whether routing key ``key`` matches binding ``pattern``."""
    words = key.split(".") if key else []
    # The positions in ``words`` reachable after matching a prefix of the pattern.
    reachable = {0}
    for part in pattern.split(".") if pattern else []:
        after: set[int] = set()
        for i in reachable:
            if part == "#":
                after.update(range(i, len(words) + 1))
            elif i < len(words) and part in ("*", words[i]):
                after.add(i + 1)
        if not after:
            return False
        reachable = after
    return len(words) in reachable
