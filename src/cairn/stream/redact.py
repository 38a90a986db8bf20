"""Secrets never leave the log: which fields of an event are withheld from readers.

The log itself holds no password or token (ADR 7), but it does hold material
that must not reach a subscriber: password and secret hashes (offline
guessing), sealed credential blobs, and whatever other services store later
(an ``adminPass``, a private key). Two rules, both applied to every delivered
event, on the stream and in histories:

* **by type and field**: :data:`SECRET_FIELDS` names the fields known to be
  secret, per event type;
* **by field name**, for event types added later by other services: any key,
  at any depth, whose name says it is a secret (:data:`SECRET_NAME`).

A withheld value is replaced by :data:`REDACTED` (``null`` stays ``null``, so
a reader still sees that a user has no password). Payloads that cannot hold
such a key (a byte search for the telltale words finds none) are passed on as
stored, without being decoded: most events cost nothing here.
"""

from __future__ import annotations

import re
from typing import Any, Final

import msgspec

#: Replaces a withheld value.
REDACTED: Final = "[redacted]"

#: Event type -> fields holding secrets (hashes are secrets too: they can be
#: guessed against offline).
SECRET_FIELDS: Final[dict[str, frozenset[str]]] = {
    "UserCreated": frozenset({"password_hash"}),
    "UserPasswordChanged": frozenset({"password_hash"}),
    "ApplicationCredentialCreated": frozenset({"secret_hash"}),
    "CredentialCreated": frozenset({"sealed_blob"}),
    "CredentialUpdated": frozenset({"sealed_blob"}),
    # Nova shows user_data only under the admin-only extended attributes
    # policy; a project reader of the stream must not get it either.
    "ServerCreateRequested": frozenset({"user_data"}),
}

#: A key whose name says "secret", whatever the event type: passwords
#: (Nova's ``adminPass``), secrets and their hashes, private keys, key
#: material, sealed blobs, tokens (but not ``token_id``-like references).
SECRET_NAME: Final = re.compile(
    r"pass(word|phrase|wd)?(_hash)?$|secret|private_?key|key_?material|sealed|(^|_)token$",
    re.IGNORECASE,
)

# Lower-cased words one of which a payload must contain for SECRET_NAME to
# match any of its keys; payloads without any are not decoded at all.
_TELLTALES: Final = (b"pass", b"secret", b"private", b"key", b"sealed", b"token")

_decoder = msgspec.json.Decoder()
_encoder = msgspec.json.Encoder()


def redact(event_type: str, data: bytes) -> bytes:
    """``data`` (a stored JSON payload) with every secret withheld."""
    fields = SECRET_FIELDS.get(event_type)
    if fields is None:
        lowered = data.lower()
        if not any(word in lowered for word in _TELLTALES):
            return data
    try:
        decoded = _decoder.decode(data)
    except msgspec.DecodeError:
        return _encoder.encode(REDACTED)  # not JSON: nothing in it can be vouched for
    changed = _withhold(decoded, fields or frozenset())
    return _encoder.encode(decoded) if changed else data


def _withhold(value: Any, fields: frozenset[str]) -> bool:
    """Replace secret values in ``value`` (in place); whether anything changed."""
    changed = False
    if isinstance(value, dict):
        for key, inner in value.items():
            if key in fields or SECRET_NAME.search(key):
                if inner is not None and inner != REDACTED:
                    value[key] = REDACTED
                    changed = True
            elif isinstance(inner, dict | list):
                changed |= _withhold(inner, frozenset())
    elif isinstance(value, list):
        for inner in value:
            changed |= _withhold(inner, frozenset())
    return changed
