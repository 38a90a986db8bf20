"""Key repositories: ``<data-dir>/keys/`` (tokens) and the sealing keys, one AES-256 key per file.

Files are named by number (``0``, ``1``, ...); the highest number is the
*primary* key, which encrypts new tokens; the others still decrypt tokens
issued before a rotation, as Keystone's Fernet key repository does. Rotation
writes a new primary and drops the oldest keys beyond ``max_keys``. Every
process on a host reads the same directory; after a rotation they reload it.
Keys are secret: the directory is 0700, each file 0600, and no key is ever
logged.
"""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

KEY_BYTES = 32
DEFAULT_MAX_KEYS = 3


def key_id(key: bytes) -> bytes:
    """Four bytes naming a key inside a token (not secret: a hash prefix)."""
    return hashlib.sha256(b"cairn-token-key" + key).digest()[:4]


class KeyRing:
    """The keys a process holds: the primary, then older ones, by id."""

    def __init__(self, keys: list[bytes]) -> None:
        if not keys:
            raise ValueError("a key ring needs at least one key")
        self.primary_id = key_id(keys[0])
        self.ciphers: dict[bytes, AESGCM] = {key_id(k): AESGCM(k) for k in keys}

    def __len__(self) -> int:
        return len(self.ciphers)


class KeyRepository:
    def __init__(self, directory: Path, *, max_keys: int = DEFAULT_MAX_KEYS) -> None:
        if max_keys < 2:
            raise ValueError("keep at least two keys, so rotation does not end valid tokens")
        self.directory = directory
        self.max_keys = max_keys

    def _numbers(self) -> list[int]:
        if not self.directory.is_dir():
            return []
        return sorted(int(p.name) for p in self.directory.iterdir() if p.name.isdigit())

    def _write(self, number: int) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = self.directory / str(number)
        temp = self.directory / f".{number}.tmp"
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(base64.urlsafe_b64encode(os.urandom(KEY_BYTES)))
            f.flush()
            os.fsync(f.fileno())
        os.replace(temp, path)

    def ensure(self) -> KeyRing:
        """The key ring, creating the first key when there is none."""
        if not self._numbers():
            self._write(0)
        return self.load()

    def load(self) -> KeyRing:
        """Primary first, then older keys, newest to oldest."""
        keys = []
        for number in reversed(self._numbers()):
            raw = base64.urlsafe_b64decode((self.directory / str(number)).read_bytes().strip())
            if len(raw) != KEY_BYTES:
                raise ValueError(
                    f"token key {self.directory / str(number)} is not {KEY_BYTES} bytes"
                )
            keys.append(raw)
        return KeyRing(keys)

    def rotate(self) -> KeyRing:
        """Make a new primary key; drop the oldest beyond ``max_keys``."""
        numbers = self._numbers()
        self._write(numbers[-1] + 1 if numbers else 0)
        for old in self._numbers()[: -self.max_keys]:
            (self.directory / str(old)).unlink()
        return self.load()
