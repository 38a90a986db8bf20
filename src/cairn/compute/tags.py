"""Server tag deciders (Nova's server tags, 2.26+).

A server's tags are one list, replaced whole by each change
(:class:`~cairn.events.compute.ServerTagsChanged` at the server stream's
version), so two concurrent additions cannot lose one another: the second is
decided again on the list the first made. Nova's rules: at most 50 tags of 1
to 60 characters without ``/`` or ``,``, and only while the server is
active, paused, suspended or stopped.
"""

from __future__ import annotations

from collections.abc import Sequence

from cairn.compute.decide import Writes, write
from cairn.compute.errors import Conflict, Invalid
from cairn.compute.servers import server_stream
from cairn.events import Metadata
from cairn.events import compute as ev
from cairn.projections.compute_state import ComputeState, Server

MAX_TAGS = 50
MAX_TAG_LENGTH = 60
TAGGABLE_STATES = ("active", "paused", "suspended", "stopped")


def tag_problem(tag: object) -> str | None:
    """Why ``tag`` is not a valid tag, or None."""
    if not isinstance(tag, str):
        return f"{tag!r} is not of type 'string'"
    if not 1 <= len(tag) <= MAX_TAG_LENGTH:
        return f"The length must be between 1 and {MAX_TAG_LENGTH}"
    if "/" in tag or "," in tag:
        return "It must not contain '/' or ','"
    return None


def _check_state(server: Server, action: str) -> None:
    if server.vm_state not in TAGGABLE_STATES:
        raise Conflict(
            f"Cannot '{action}' instance {server.id} while it is in vm_state {server.vm_state}"
        )


def replace(
    state: ComputeState, meta: Metadata, server: Server, tags: Sequence[str], action: str
) -> Writes:
    _check_state(server, action)
    unique = list(dict.fromkeys(tags))
    if len(unique) > MAX_TAGS:
        raise Invalid(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
    if unique == server.tags:
        return []
    event = ev.ServerTagsChanged(server_id=server.id, tags=unique)
    return [write(state, server_stream(server.id), [event], meta)]


def add(state: ComputeState, meta: Metadata, server: Server, tag: str) -> Writes:
    if tag in server.tags:
        _check_state(server, "update tag")
        return []
    if len(server.tags) >= MAX_TAGS:
        raise Invalid(f"The number of tags exceeded the per-server limit {MAX_TAGS}")
    return replace(state, meta, server, [*server.tags, tag], "update tag")


def remove(state: ComputeState, meta: Metadata, server: Server, tag: str | None) -> Writes:
    """Remove ``tag`` (None: every tag)."""
    kept = [] if tag is None else [t for t in server.tags if t != tag]
    return replace(state, meta, server, kept, "delete tag" if tag else "delete tags")
