"""Tokens: authenticated encryption, validated from memory.

A token is ``c1`` and the URL-safe base64 of ``key id (4) | nonce (12) |
AES-256-GCM(payload)``. The payload (msgpack) names the user, the methods,
the scope, the issue and expiry times and the audit ids; it is encrypted, so
a token reveals nothing, and authenticated, so a changed byte makes it
invalid. Validation needs no database: decrypt with the key the token names,
check the expiry, and check revocations and the user's state in the identity
read model, which every process folds from the log (a ``TokenRevoked`` takes
effect in each process as soon as it has folded it).
"""

from __future__ import annotations

import base64
import binascii
import os
import secrets
import time

import msgspec
from cryptography.exceptions import InvalidTag

from cairn.identity.errors import Unauthorized
from cairn.keyring import KeyRing

PREFIX = "c1"
NONCE_BYTES = 12
DEFAULT_TTL = 3600.0


class TokenPayload(msgspec.Struct, array_like=True, frozen=True):
    user_id: str
    methods: list[str]
    #: "" (unscoped), "project", "domain" or "system"
    scope_type: str
    scope_id: str
    issued_at: float
    expires_at: float
    audit_id: str
    #: the audit id of the token this one was re-scoped from, if any
    audit_chain_id: str | None = None
    app_cred_id: str | None = None
    #: the trust a trust-scoped token was issued from (OS-TRUST)
    trust_id: str | None = None

    @property
    def audit_ids(self) -> list[str]:
        return (
            [self.audit_id] if self.audit_chain_id is None else [self.audit_id, self.audit_chain_id]
        )


_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(TokenPayload)


def new_audit_id() -> str:
    return secrets.token_urlsafe(16)


class TokenProvider:
    def __init__(self, keys: KeyRing, *, ttl: float = DEFAULT_TTL) -> None:
        self.keys = keys
        self.ttl = ttl

    def issue(
        self,
        user_id: str,
        methods: list[str],
        scope_type: str = "",
        scope_id: str = "",
        *,
        expires_at: float | None = None,
        audit_chain_id: str | None = None,
        app_cred_id: str | None = None,
        trust_id: str | None = None,
        now: float | None = None,
    ) -> tuple[str, TokenPayload]:
        """A new token and what it says. ``expires_at`` may only shorten the ttl."""
        issued = time.time() if now is None else now
        expiry = issued + self.ttl
        if expires_at is not None:
            expiry = min(expiry, expires_at)
        payload = TokenPayload(
            user_id, methods, scope_type, scope_id, issued, expiry, new_audit_id(),
            audit_chain_id, app_cred_id, trust_id,
        )  # fmt: skip
        return self.encrypt(payload), payload

    def encrypt(self, payload: TokenPayload) -> str:
        kid, nonce = self.keys.primary_id, os.urandom(NONCE_BYTES)
        sealed = self.keys.ciphers[kid].encrypt(nonce, _encoder.encode(payload), PREFIX.encode())
        return PREFIX + base64.urlsafe_b64encode(kid + nonce + sealed).rstrip(b"=").decode()

    def decrypt(
        self, token: str, *, now: float | None = None, allow_expired: bool = False
    ) -> TokenPayload:
        """What ``token`` says, if it is authentic and (unless allowed) not expired.

        Raises :class:`Unauthorized` otherwise; revocation is checked by the caller
        against the read model."""
        if not token.startswith(PREFIX) or len(token) > 1024:
            raise Unauthorized("The token is not valid.")
        body = token[len(PREFIX) :]
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise Unauthorized("The token is not valid.") from None
        kid, nonce, sealed = raw[:4], raw[4 : 4 + NONCE_BYTES], raw[4 + NONCE_BYTES :]
        cipher = self.keys.ciphers.get(kid)
        if cipher is None or len(nonce) != NONCE_BYTES:
            raise Unauthorized("The token is not valid.")
        try:
            payload = _decoder.decode(cipher.decrypt(nonce, sealed, PREFIX.encode()))
        except (InvalidTag, msgspec.DecodeError):
            raise Unauthorized("The token is not valid.") from None
        if not allow_expired and payload.expires_at <= (time.time() if now is None else now):
            raise Unauthorized("The token has expired.")
        return payload
