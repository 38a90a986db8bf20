"""Tokens: round trip, tampering, expiry, key rotation; passwords."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from cairn.identity.errors import Unauthorized
from cairn.identity.passwords import PasswordHasher
from cairn.identity.tokens import TokenProvider
from cairn.keyring import KeyRepository


def provider(tmp_path: Path) -> tuple[KeyRepository, TokenProvider]:
    repo = KeyRepository(tmp_path / "keys")
    return repo, TokenProvider(repo.ensure(), ttl=60)


def test_a_token_round_trips_and_reveals_nothing(tmp_path: Path) -> None:
    _, tokens = provider(tmp_path)
    token, payload = tokens.issue("user-1", ["password"], "project", "proj-1", now=1000.0)
    assert token.startswith("c1")
    assert len(token) < 300
    assert "user-1" not in token
    assert "proj-1" not in token
    decoded = tokens.decrypt(token, now=1001.0)
    assert decoded == payload
    assert (decoded.user_id, decoded.scope_type, decoded.scope_id) == (
        "user-1",
        "project",
        "proj-1",
    )
    assert decoded.expires_at == 1060.0
    # Two tokens for the same thing differ (nonce, audit id).
    assert (
        tokens.issue("user-1", ["password"], now=1000.0)[0]
        != tokens.issue("user-1", ["password"], now=1000.0)[0]
    )


def test_any_changed_character_is_refused(tmp_path: Path) -> None:
    _, tokens = provider(tmp_path)
    token, _ = tokens.issue("user-1", ["password"])
    for i in range(2, len(token) - 1, 7):  # (the last character may hold only padding bits)
        flipped = token[:i] + ("A" if token[i] != "A" else "B") + token[i + 1 :]
        with pytest.raises(Unauthorized):
            tokens.decrypt(flipped)
    for garbage in ("", "c1", "c1====", "x" * 50, token[:-10], "c1" + "A" * 2000):
        with pytest.raises(Unauthorized):
            tokens.decrypt(garbage)


def test_expiry(tmp_path: Path) -> None:
    _, tokens = provider(tmp_path)
    token, payload = tokens.issue("user-1", ["password"], now=1000.0)
    with pytest.raises(Unauthorized, match="expired"):
        tokens.decrypt(token, now=1060.0)
    assert tokens.decrypt(token, now=1060.0, allow_expired=True) == payload
    _shorter, payload = tokens.issue("user-1", ["password"], expires_at=1010.0, now=1000.0)
    assert payload.expires_at == 1010.0


def test_rotation_keeps_recent_tokens_valid(tmp_path: Path) -> None:
    repo, tokens = provider(tmp_path)
    old, _ = tokens.issue("user-1", ["password"])
    rotated = TokenProvider(repo.rotate(), ttl=60)
    new, _ = rotated.issue("user-1", ["password"])
    assert rotated.decrypt(old).user_id == rotated.decrypt(new).user_id == "user-1"
    with pytest.raises(Unauthorized):
        tokens.decrypt(new)  # the old ring does not know the new primary
    repo.rotate()
    final = TokenProvider(repo.rotate(), ttl=60)  # 3 keys kept: the first one is gone
    assert len(final.keys) == 3
    with pytest.raises(Unauthorized):
        final.decrypt(old)
    assert final.decrypt(new).user_id == "user-1"


def test_keys_are_private(tmp_path: Path) -> None:
    repo, _ = provider(tmp_path)
    assert stat.S_IMODE((tmp_path / "keys").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "keys" / "0").stat().st_mode) == 0o600
    assert len(repo.ensure()) == 1  # ensure does not add keys


async def test_passwords_hash_slowly_salted_and_verify() -> None:
    hasher = PasswordHasher(cost=4)
    first, second = await hasher.hash("pw-1"), await hasher.hash("pw-1")
    assert first != second
    assert first.startswith("$2b$04$")
    assert await hasher.verify("pw-1", first)
    assert not await hasher.verify("pw-2", first)
    assert not await hasher.verify("pw-1", None)
    assert not await hasher.verify("x" * 100, first)
    with pytest.raises(ValueError, match="cost"):
        PasswordHasher(cost=3)
