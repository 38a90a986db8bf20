"""Topic matching, as RabbitMQ's topic exchange does it."""

from __future__ import annotations

import pytest

from cairn.bus.topic import topic_matches

#: (pattern, key, matches): also checked against the real broker in test_rabbitmq.py.
TOPIC_CASES = [
    ("server.ServerRequested", "server.ServerRequested", True),
    ("server.ServerRequested", "server.ServerDeleted", False),
    ("server.*", "server.ServerRequested", True),
    ("server.*", "server", False),
    ("server.*", "server.a.b", False),
    ("*.ServerDeleted", "server.ServerDeleted", True),
    ("*.ServerDeleted", "ServerDeleted", False),
    ("#", "server.ServerRequested", True),
    ("#", "", True),
    ("server.#", "server", True),
    ("server.#", "server.a.b.c", True),
    ("server.#", "servers.a", False),
    ("#.Deleted", "a.b.Deleted", True),
    ("#.Deleted", "Deleted", True),
    ("a.#.z", "a.z", True),
    ("a.#.z", "a.b.c.z", True),
    ("a.#.z", "a.b.c.y", False),
    ("*.*", "a.b", True),
    ("*.*", "a", False),
    ("#.*", "a", True),
    ("#.*", "", False),  # "" is no words at all...
    ("*", "", False),
    ("", "", True),
    ("", "a", False),
    ("a.*", "a.", True),  # ...but "a." is "a" and an empty word
    ("*.a", ".a", True),
    ("a.*.b", "a..b", True),
    ("a.#", "a.", True),
    ("server", "server.x", False),
]


@pytest.mark.parametrize(("pattern", "key", "matches"), TOPIC_CASES)
def test_topic_matches(pattern: str, key: str, matches: bool) -> None:
    assert topic_matches(pattern, key) is matches
