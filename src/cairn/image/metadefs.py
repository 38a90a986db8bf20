"""Deciders of metadata definitions (``/v2/metadefs``): namespaces, their resource
type associations, objects, properties and tags.

Every write goes to the namespace's stream (by its name) at the version the
decision saw, so two concurrent changes of one namespace are ordered (one
conflicts and decides again), and a name is never taken twice. As in Glance, a
protected namespace cannot be deleted (403, and neither can its contents be
cleared), names are unique within their namespace (409), and a namespace is
seen by its owner, admins, and everyone when public.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cairn.app import Decider
from cairn.events import NO_STREAM, DomainEvent, Metadata, registry
from cairn.events import image as ev
from cairn.image.errors import Conflict, Forbidden, NotFound
from cairn.projections.image import ImageState, Namespace, metadef_stream
from cairn.store.port import StreamWrite

KINDS = ("object", "property", "tag")

#: The kinds of resource in Cairn that carry metadata, as Glance names them;
#: each exists from the log's first event (further ones are made by associating).
BUILT_IN_RESOURCE_TYPES = (
    "OS::Glance::Image", "OS::Glance::Snapshot", "OS::Nova::Flavor", "OS::Nova::Server",
)  # fmt: skip


def can_see(ns: Namespace, project: str | None, admin: bool) -> bool:
    return admin or ns.visibility == "public" or (project is not None and ns.owner == project)


def visible(state: ImageState, name: str, project: str | None, admin: bool) -> Namespace:
    ns = state.namespaces.get(name)
    if ns is None or not can_see(ns, project, admin):
        raise NotFound(f"Metadata definition namespace={name} was not found.")
    return ns


def _write(state: ImageState, namespace: str, events: Sequence[DomainEvent],
           meta: Metadata) -> StreamWrite:  # fmt: skip
    stream = metadef_stream(namespace)
    return StreamWrite(
        stream, [registry.new(e, meta) for e in events], state.versions.get(stream, NO_STREAM)
    )


def create_namespace(d: ev.MetadefNamespaceCreated, items: Sequence[DomainEvent],
                     meta: Metadata) -> Decider[ImageState]:  # fmt: skip
    """A new namespace, with the associations and items given in its body."""

    def decide(state: ImageState) -> Sequence[StreamWrite]:
        if d.namespace in state.namespaces:
            raise Conflict(f"Metadata definition namespace={d.namespace} already exists.")
        return [_write(state, d.namespace, [d, *items], meta)]

    return decide


def update_namespace(d: ev.MetadefNamespaceUpdated, meta: Metadata) -> Decider[ImageState]:
    def decide(state: ImageState) -> Sequence[StreamWrite]:
        if d.namespace not in state.namespaces:
            raise NotFound(f"Metadata definition namespace={d.namespace} was not found.")
        writes = [_write(state, d.namespace, [d], meta)]
        if d.new_namespace != d.namespace:
            if d.new_namespace in state.namespaces:
                raise Conflict(f"Metadata definition namespace={d.new_namespace} already exists.")
            taken = ev.MetadefNameTaken(namespace=d.new_namespace)
            writes.append(_write(state, d.new_namespace, [taken], meta))
        return writes

    return decide


def delete_namespace(namespace: str, meta: Metadata) -> Decider[ImageState]:
    def decide(state: ImageState) -> Sequence[StreamWrite]:
        ns = state.namespaces.get(namespace)
        if ns is None:
            raise NotFound(f"Metadata definition namespace={namespace} was not found.")
        if ns.protected:
            raise Forbidden(f"Namespace {namespace} is protected and cannot be deleted.")
        return [_write(state, namespace, [ev.MetadefNamespaceDeleted(namespace=namespace)], meta)]

    return decide


def _existing(state: ImageState, namespace: str) -> Namespace:
    ns = state.namespaces.get(namespace)
    if ns is None:
        raise NotFound(f"Metadata definition namespace={namespace} was not found.")
    return ns


def associate(d: ev.MetadefResourceTypeAssociated, meta: Metadata) -> Decider[ImageState]:
    def decide(state: ImageState) -> Sequence[StreamWrite]:
        ns = _existing(state, d.namespace)
        if d.name in ns.resource_types:
            raise Conflict(
                f"Resource type {d.name} is already associated with namespace {d.namespace}."
            )
        return [_write(state, d.namespace, [d], meta)]

    return decide


def dissociate(namespace: str, name: str, meta: Metadata) -> Decider[ImageState]:
    def decide(state: ImageState) -> Sequence[StreamWrite]:
        ns = _existing(state, namespace)
        if ns.protected:
            raise Forbidden(f"Namespace {namespace} is protected.")
        if name not in ns.resource_types:
            raise NotFound(f"Resource type {name} is not associated with namespace {namespace}.")
        event = ev.MetadefResourceTypeDissociated(namespace=namespace, name=name)
        return [_write(state, namespace, [event], meta)]

    return decide


def save_items(namespace: str, kind: str, saved: Sequence[tuple[str | None, str, dict[str, Any]]],
               meta: Metadata, *, replace_all: bool = False) -> Decider[ImageState]:  # fmt: skip
    """Create (old name ``None``), rename or replace items of ``kind``; with
    ``replace_all`` the items not in ``saved`` are deleted (a tag list's POST)."""

    def decide(state: ImageState) -> Sequence[StreamWrite]:
        ns = _existing(state, namespace)
        have = ns.items.get(kind, {})
        events: list[DomainEvent] = []
        names = set() if replace_all else set(have)
        if replace_all:
            events += [ev.MetadefItemDeleted(namespace=namespace, kind=kind, name=n) for n in have]
        for previous, name, document in saved:
            if previous is not None:
                if previous not in have:
                    raise NotFound(f"Metadata definition {kind}={previous} was not found.")
                names.discard(previous)
            if name in names:
                raise Conflict(f"A metadata definition {kind} with name={name} already exists "
                               f"in namespace={namespace}.")  # fmt: skip
            names.add(name)
            events.append(ev.MetadefItemSaved(
                namespace=namespace, kind=kind, name=name, document=document,
                previous_name=previous if previous != name else None,
            ))  # fmt: skip
        return [_write(state, namespace, events, meta)]

    return decide


def delete_items(namespace: str, kind: str, name: str | None,
                 meta: Metadata) -> Decider[ImageState]:  # fmt: skip
    """Delete one item of ``kind``, or all of them (``name`` None)."""

    def decide(state: ImageState) -> Sequence[StreamWrite]:
        ns = _existing(state, namespace)
        have = ns.items.get(kind, {})
        if ns.protected:
            raise Forbidden(f"Namespace {namespace} is protected.")
        if name is not None and name not in have:
            raise NotFound(f"Metadata definition {kind}={name} was not found.")
        names = [name] if name is not None else list(have)
        events = [ev.MetadefItemDeleted(namespace=namespace, kind=kind, name=n) for n in names]
        return [_write(state, namespace, events, meta)] if events else []

    return decide
