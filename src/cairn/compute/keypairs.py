"""Keypair deciders and key material: import a public key, or generate a pair.

A user's keypairs share one ``keypairs-<user id>`` stream, so a name is claimed
race-free and the ``key_pairs`` quota is checked against the stream it counts.
A generated private key is returned to the caller once and is in no event.
"""

from __future__ import annotations

import base64
import hashlib
import re

from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa

from cairn.compute import quota
from cairn.compute.decide import Writes, write
from cairn.compute.errors import Conflict, Invalid, NotFound, QuotaExceeded
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.projections.compute import ComputeState, Keypair

NAME = re.compile(r"^[A-Za-z0-9 _.@-]{1,255}$")


def keypair_stream(user_id: str) -> str:
    return f"keypairs-{user_id}"


def fingerprint(public_key: str) -> str:
    """Nova's fingerprint of an SSH public key: MD5 of its blob, colon-separated.
    Raises :class:`Invalid` for anything that is not an SSH public key."""
    try:
        serialization.load_ssh_public_key(public_key.strip().encode())
        blob = base64.b64decode(public_key.split()[1], validate=True)
    except (ValueError, IndexError, TypeError, UnsupportedAlgorithm) as exc:
        raise Invalid(f"Keypair data is invalid: failed to generate fingerprint ({exc})") from None
    digest = hashlib.md5(blob, usedforsecurity=False).hexdigest()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def generate(kind: str = "rsa") -> tuple[str, str]:
    """A new (private key in OpenSSH PEM, public key in OpenSSH form)."""
    key = (
        ed25519.Ed25519PrivateKey.generate()
        if kind == "ed25519"
        else rsa.generate_private_key(public_exponent=65537, key_size=2048)
    )
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH
        if kind == "ed25519"
        else serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return private, public + " Generated-by-Cairn"


def find(state: ComputeState, user_id: str, name: str) -> Keypair:
    found = state.keypairs.get(user_id, {}).get(name)
    if found is None:
        raise NotFound(f"Keypair {name} not found for user {user_id}")
    return found


def create(state: ComputeState, meta: Metadata, d: ev.KeypairCreated, project_id: str) -> Writes:
    if not NAME.match(d.name):
        raise Invalid(
            "Keypair data is invalid: Keypair name contains unsafe characters or is empty "
            "or longer than 255 characters"
        )
    mine = state.keypairs.get(d.user_id, {})
    if d.name in mine:
        raise Conflict(f"Key pair '{d.name}' already exists.")
    limit = quota.limits(state, project_id)["key_pairs"]
    if limit != quota.UNLIMITED and len(mine) + 1 > limit:
        raise QuotaExceeded("Quota exceeded, too many key pairs.", ("key_pairs",))
    return [write(state, keypair_stream(d.user_id), [d], meta)]


def delete(state: ComputeState, meta: Metadata, user_id: str, name: str) -> Writes:
    find(state, user_id, name)
    event = ev.KeypairDeleted(user_id=user_id, name=name)
    return [write(state, keypair_stream(user_id), [event], meta)]
