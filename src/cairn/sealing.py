"""Sealing secrets that must pass through the log: encrypted before they go in an event.

Events are never to carry a secret, but some secrets have to travel with one:
a credential blob ``/v3/credentials`` stores (an EC2 secret key, a TOTP seed),
a password for a guest that its host's agent sets. Such a value is AES-256-GCM
encrypted with a key repository of its own (:mod:`cairn.keyring`:
``<data-dir>/credential-keys/``, ``<data-dir>/guest-secret-keys/``) and opened
only where it is used. Rotation works as for token keys.
"""

from __future__ import annotations

import base64
import binascii
import os
from pathlib import Path

from cryptography.exceptions import InvalidTag

from cairn.errors import CairnError
from cairn.keyring import KEY_BYTES, KeyRepository, KeyRing

PREFIX = "s1"
NONCE_BYTES = 12
#: Under the data directory: the keys sealing guests' passwords (``adminPass`` of a
#: rebuild or a rescue, ``changePassword``) on their way to the host's agent.
#: An agent on another machine needs a copy of this directory.
GUEST_SECRET_KEYS = "guest-secret-keys"


class CannotOpen(CairnError):
    """A sealed blob was made with a key this process does not hold (or was changed)."""


class Sealer:
    def __init__(self, keys: KeyRing) -> None:
        self.keys = keys

    def seal(self, plaintext: str) -> str:
        kid, nonce = self.keys.primary_id, os.urandom(NONCE_BYTES)
        sealed = self.keys.ciphers[kid].encrypt(nonce, plaintext.encode(), PREFIX.encode())
        return PREFIX + base64.urlsafe_b64encode(kid + nonce + sealed).decode()

    def open(self, sealed: str) -> str:
        if not sealed.startswith(PREFIX):
            raise CannotOpen("not a sealed blob")
        try:
            raw = base64.urlsafe_b64decode(sealed[len(PREFIX) :])
        except (binascii.Error, ValueError):
            raise CannotOpen("not a sealed blob") from None
        cipher = self.keys.ciphers.get(raw[:4])
        if cipher is None:
            raise CannotOpen("sealed with a key this process does not hold")
        try:
            return cipher.decrypt(
                raw[4 : 4 + NONCE_BYTES], raw[4 + NONCE_BYTES :], PREFIX.encode()
            ).decode()
        except InvalidTag:
            raise CannotOpen("the sealed blob was changed") from None


def sealer_at(directory: Path | None) -> Sealer:
    """A sealer with the key repository at ``directory`` (made on first use), or
    with a key of its own for ``None`` (only this process can open what it seals)."""
    if directory is None:
        return Sealer(KeyRing([os.urandom(KEY_BYTES)]))
    return Sealer(KeyRepository(directory).ensure())
