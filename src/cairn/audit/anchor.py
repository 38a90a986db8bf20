"""Anchors: the log's head position and hash, signed, kept outside the log.

The hash chain proves that no event was changed, inserted or removed *relative
to the rest of the chain*; someone who can write the database could still
rewrite every event from some position on and recompute every hash, and the
rewritten log would verify. An anchor closes that gap: ``cairn audit anchor``
signs the head's position and hash (and the time) with the cloud's anchor key
and hands the line to somewhere the database's writer cannot reach (printed,
appended to a file, sent to a syslog sink). ``cairn audit verify --anchor``
then checks, besides the chain, that the event at each anchored position still
has the anchored hash: a rewrite of anything at or before an anchor is found.

Signatures are Ed25519 over a fixed text form (:func:`signed_text`), so an
anchor can be checked with the public key alone; the key is made on first use
as ``<data-dir>/keys/audit-anchor.pem`` (mode 0600). The signature says the
anchor was made by the holder of that key (not forged by whoever rewrote the
log and wants a matching anchor); the anchor's safety comes from being stored
elsewhere.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

import msgspec
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)

from cairn.errors import CairnError
from cairn.store.port import EventStore

KEY_FILE = "audit-anchor.pem"


class AnchorError(CairnError):
    """An anchor that cannot be read, or whose signature does not hold."""


class Anchor(msgspec.Struct, frozen=True):
    """One signed head: what ``cairn audit anchor`` prints, one JSON line."""

    position: int
    hash: str
    at: str
    key_id: str
    signature: str


def signed_text(position: int, digest: str, at: str) -> bytes:
    return f"cairn-audit-anchor:v1:{position}:{digest}:{at}".encode()


def key_id(public: Ed25519PublicKey) -> str:
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def load_or_make_key(path: Path) -> Ed25519PrivateKey:
    """The anchor key at ``path``, made (owner-only) when there is none."""
    if path.exists():
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise AnchorError(f"{path} is not an Ed25519 private key")
        return key
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(pem)
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The public key of the anchor key file (a private or a public PEM)."""
    data = path.read_bytes()
    if b"PRIVATE KEY" in data:
        private = serialization.load_pem_private_key(data, password=None)
        if not isinstance(private, Ed25519PrivateKey):
            raise AnchorError(f"{path} is not an Ed25519 key")
        return private.public_key()
    public = serialization.load_pem_public_key(data)
    if not isinstance(public, Ed25519PublicKey):
        raise AnchorError(f"{path} is not an Ed25519 key")
    return public


async def head_of(store: EventStore) -> tuple[int, str]:
    """The log's head position and its event's hash (hex); (0, "") when empty."""
    head = await store.head()
    if head == 0:
        return 0, ""
    [row] = await store.read_chain(after=head - 1, limit=1)
    return head, bytes(row[-1]).hex()


def sign(key: Ed25519PrivateKey, position: int, digest: str, at: str) -> Anchor:
    signature = key.sign(signed_text(position, digest, at)).hex()
    return Anchor(position, digest, at, key_id(key.public_key()), signature)


def parse(text: str) -> list[Anchor]:
    """Anchors from JSON lines (a file of appended anchors, or one line)."""
    found = []
    for line in text.splitlines():
        if line.strip():
            try:
                found.append(msgspec.json.decode(line, type=Anchor))
            except msgspec.DecodeError as exc:
                raise AnchorError(f"not an anchor: {line[:80]!r} ({exc})") from None
    if not found:
        raise AnchorError("no anchor found")
    return found


def check_signature(public: Ed25519PublicKey, anchor: Anchor) -> None:
    if anchor.key_id != key_id(public):
        raise AnchorError(f"the anchor at {anchor.position} was signed by another key")
    try:
        public.verify(
            bytes.fromhex(anchor.signature), signed_text(anchor.position, anchor.hash, anchor.at)
        )
    except (InvalidSignature, ValueError):
        raise AnchorError(f"the anchor at {anchor.position} has a bad signature") from None


@dataclass(frozen=True, slots=True)
class AnchorFinding:
    """An anchored position whose event is gone or has another hash."""

    position: int
    anchored: str
    stored: str | None

    def explain(self) -> str:
        if self.stored is None:
            return f"position {self.position} is anchored but no longer on the log"
        return (
            f"position {self.position} was anchored with hash {self.anchored} and now "
            f"holds {self.stored}: the log was rewritten at or before it"
        )


async def check_anchors(
    store: EventStore, public: Ed25519PublicKey, anchors: list[Anchor]
) -> AnchorFinding | None:
    """The first anchor the log contradicts (after checking every signature), or None."""
    for anchor in anchors:
        check_signature(public, anchor)
    for anchor in anchors:
        if anchor.position == 0:
            continue
        rows = await store.read_chain(after=anchor.position - 1, limit=1)
        stored = bytes(rows[0][-1]).hex() if rows and rows[0][0] == anchor.position else None
        if stored != anchor.hash:
            return AnchorFinding(anchor.position, anchor.hash, stored)
    return None
