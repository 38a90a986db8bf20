"""Sealing credential blobs: what ``/v3/credentials`` stores is encrypted in the log.

Credential blobs hold secrets (an EC2 secret key, a TOTP seed), and events are
never to carry a secret; so a blob is AES-256-GCM encrypted before it goes in
an event, with its own key repository (``<data-dir>/credential-keys/``), and
opened only to answer its owner or an admin. Rotation works as for token keys.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.exceptions import InvalidTag

from cairn.identity.errors import IdentityError
from cairn.identity.keys import KeyRing

PREFIX = "s1"
NONCE_BYTES = 12


class CannotOpen(IdentityError):
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
