"""Password hashing: bcrypt, a slow salted hash, computed off the event loop.

The cost (log2 of bcrypt's rounds) defaults to 12; DevStack's Keystone uses 4,
which benchmarks may choose. Comparisons are bcrypt's own, in constant time.
Checking a password of a user who does not exist still spends one hash, so the
answer's timing does not tell which user names exist.
"""

from __future__ import annotations

import asyncio

import bcrypt

DEFAULT_COST = 12
MIN_COST, MAX_COST = 4, 16
#: bcrypt uses only the first 72 bytes of a password; longer ones are refused
#: rather than silently truncated.
MAX_PASSWORD_BYTES = 72


class PasswordHasher:
    def __init__(self, cost: int = DEFAULT_COST) -> None:
        if not MIN_COST <= cost <= MAX_COST:
            raise ValueError(f"bcrypt cost must be from {MIN_COST} to {MAX_COST}, not {cost}")
        self.cost = cost
        self._dummy = bcrypt.hashpw(b"no such user", bcrypt.gensalt(cost))

    def hash_now(self, password: str) -> str:
        """The hash of ``password`` (blocking: call from a thread or at startup)."""
        return bcrypt.hashpw(_encode(password), bcrypt.gensalt(self.cost)).decode("ascii")

    async def hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hash_now, password)

    async def verify(self, password: str, hashed: str | None) -> bool:
        """Whether ``password`` matches ``hashed``; ``None`` (no password set) never
        matches, at the same cost."""
        try:
            candidate = _encode(password)
        except ValueError:
            candidate = b""
            hashed = None
        if hashed is None:
            await asyncio.to_thread(bcrypt.checkpw, candidate, self._dummy)
            return False
        return await asyncio.to_thread(bcrypt.checkpw, candidate, hashed.encode("ascii"))


def _encode(password: str) -> bytes:
    raw = password.encode("utf-8")
    if len(raw) > MAX_PASSWORD_BYTES:
        raise ValueError(f"a password may be at most {MAX_PASSWORD_BYTES} bytes long")
    return raw
