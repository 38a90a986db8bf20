"""Building blocks of identity's deciders: lookups that raise, writes at versions,
and unique-name claims (docs/adr/0006-command-handlers.md)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from typing import TypeVar

from cairn.events import NO_STREAM, DomainEvent, Metadata, registry, stream_name
from cairn.events import identity as ev
from cairn.identity.errors import Conflict, NotFound
from cairn.projections.identity import IdentityState, name_key
from cairn.store.port import StreamWrite

T = TypeVar("T")


def new_id() -> str:
    """Keystone's ids: 32 hex digits."""
    return uuid.uuid4().hex


def find(items: Mapping[str, T], ident: str, kind: str) -> T:
    try:
        return items[ident]
    except KeyError:
        raise NotFound(kind, ident) from None


def create(category: str, ident: str, meta: Metadata, *events: DomainEvent) -> StreamWrite:
    """A new stream ``category-ident`` (it must not exist yet)."""
    return StreamWrite(
        stream_name(category, ident), [registry.new(e, meta) for e in events], NO_STREAM
    )


def change(
    state: IdentityState, category: str, ident: str, meta: Metadata, *events: DomainEvent
) -> StreamWrite:
    """Events on stream ``category-ident`` at the version the state has seen."""
    stream = stream_name(category, ident)
    return StreamWrite(
        stream, [registry.new(e, meta) for e in events], state.versions.get(stream, NO_STREAM)
    )


def grant_stream_id(key: str) -> str:
    """The id of the stream of one role assignment (``grant-<id>``), by its key."""
    return hashlib.sha256(key.encode()).hexdigest()[:40]


def _claim_stream(kind: str, scope: str, name: str) -> str:
    digest = hashlib.sha256(name.casefold().encode()).hexdigest()[:32]
    return stream_name("name", f"{kind}.{scope}.{digest}")


def claim(
    state: IdentityState, kind: str, scope: str, name: str, owner_id: str, meta: Metadata
) -> StreamWrite:
    """Take ``name`` for ``owner_id``; :class:`Conflict` when someone else has it."""
    holder = state.names.get(name_key(kind, scope, name))
    if holder is not None and holder != owner_id:
        where = f" in domain {scope}" if scope else ""
        raise Conflict(f"Conflict occurred attempting to store {kind} - Duplicate entry "
                       f"found with name {name}{where}.")  # fmt: skip
    stream = _claim_stream(kind, scope, name)
    event = ev.NameClaimed(kind=kind, scope=scope, name=name, owner_id=owner_id)
    return StreamWrite(stream, [registry.new(event, meta)], state.versions.get(stream, NO_STREAM))


def release(
    state: IdentityState, kind: str, scope: str, name: str, owner_id: str, meta: Metadata
) -> StreamWrite:
    stream = _claim_stream(kind, scope, name)
    event = ev.NameReleased(kind=kind, scope=scope, name=name, owner_id=owner_id)
    return StreamWrite(stream, [registry.new(event, meta)], state.versions.get(stream, NO_STREAM))


def rename(
    state: IdentityState,
    kind: str,
    scope: str,
    old: str,
    new: str,
    owner_id: str,
    meta: Metadata,
) -> list[StreamWrite]:
    """The claim writes of a rename (none when only the case is unchanged too)."""
    if old == new:
        return []
    if old.casefold() == new.casefold():
        return [claim(state, kind, scope, new, owner_id, meta)]
    return [
        claim(state, kind, scope, new, owner_id, meta),
        release(state, kind, scope, old, owner_id, meta),
    ]
