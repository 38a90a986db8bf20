"""The block storage service (Cinder v3) at ``/volume``.

Every route under ``/v3`` answers both with and without the project id in the
path (``/v3/{project_id}/volumes``, as older catalogs and clients write it,
and ``/v3/volumes``, as Cinder does since 3.67); a project id that is not the
token's is a 400. Decisions are :mod:`cairn.volume`'s; the volume agent
(:mod:`cairn.agents.volume`) does the work on disk. Errors are Cinder's fault
bodies (``{"itemNotFound": {"code": 404, "message": ...}}``), microversions are
negotiated by :mod:`.microversions`.
"""

from __future__ import annotations

from collections.abc import Callable

from aiohttp.typedefs import Handler

from cairn.api.identity import token_middleware
from cairn.api.services import CatalogEntry, Route, Service, delete, get, post, put
from cairn.api.volume import (
    actions,
    backends,
    backups,
    discovery,
    group_snapshots,
    group_types,
    groups,
    messages,
    misc,
    qos,
    quotas,
    snapshots,
    transfers,
    types,
    volumes,
)
from cairn.api.volume import metadata as meta
from cairn.api.volume.common import volume_errors
from cairn.api.volume.context import volume_ctx
from cairn.api.volume.keys import IMAGE_LOOKUP, VOLUME_CONFIG, VOLUMES
from cairn.api.volume.microversions import microversion_middleware

Verb = Callable[[str, Handler], Route]


def both(verb: Verb, path: str, handler: Handler) -> list[Route]:
    """``path`` under ``/v3`` and under ``/v3/{project_id}``."""
    return [verb("/v3" + path, handler), verb("/v3/{project_id}" + path, handler)]


def _metadata(collection: str) -> list[Route]:
    h = meta.handlers(collection)
    base = f"/{collection}/{{id}}/metadata"
    return [
        *both(get, base, h["show_all"]),
        *both(post, base, h["merge"]),
        *both(put, base, h["replace"]),
        *both(get, base + "/{key}", h["show_one"]),
        *both(put, base + "/{key}", h["put_one"]),
        *both(delete, base + "/{key}", h["delete_one"]),
    ]


def _transfers(base: str) -> list[Route]:
    return [
        *both(get, base + "/detail", transfers.detail),
        *both(get, base, transfers.index),
        *both(post, base, transfers.create),
        *both(get, base + "/{id}", transfers.show),
        *both(delete, base + "/{id}", transfers.delete),
        *both(post, base + "/{id}/accept", transfers.accept),
    ]


ROUTES: list[Route] = [
    get("", discovery.versions),
    get("/", discovery.versions),
    get("/v3", discovery.version),
    get("/v3/", discovery.version),
    # the fixed paths first: /v3/volumes/detail is not /v3/{project_id}/volumes
    *both(get, "/volumes/detail", volumes.detail),
    *both(get, "/volumes/summary", volumes.summary),
    *both(get, "/snapshots/detail", snapshots.detail),
    *both(get, "/volumes", volumes.index),
    *both(post, "/volumes", volumes.create),
    *both(get, "/volumes/{id}", volumes.show),
    *both(put, "/volumes/{id}", volumes.update),
    *both(delete, "/volumes/{id}", volumes.delete),
    *both(post, "/volumes/{id}/action", actions.action),
    *_metadata("volumes"),
    *both(get, "/snapshots", snapshots.index),
    *both(post, "/snapshots", snapshots.create),
    *both(get, "/snapshots/{id}", snapshots.show),
    *both(put, "/snapshots/{id}", snapshots.update),
    *both(delete, "/snapshots/{id}", snapshots.delete),
    *both(post, "/snapshots/{id}/action", snapshots.action),
    *_metadata("snapshots"),
    *both(get, "/types", types.index),
    *both(post, "/types", types.create),
    *both(get, "/types/{id}", types.show),
    *both(put, "/types/{id}", types.update),
    *both(delete, "/types/{id}", types.delete),
    *both(get, "/types/{id}/os-volume-type-access", types.list_access),
    *both(post, "/types/{id}/action", types.action),
    *both(get, "/types/{id}/extra_specs", types.list_specs),
    *both(post, "/types/{id}/extra_specs", types.create_specs),
    *both(get, "/types/{id}/extra_specs/{key}", types.show_spec),
    *both(put, "/types/{id}/extra_specs/{key}", types.update_spec),
    *both(delete, "/types/{id}/extra_specs/{key}", types.delete_spec),
    *both(get, "/os-quota-sets/{target}", quotas.show),
    *both(get, "/os-quota-sets/{target}/defaults", quotas.defaults),
    *both(put, "/os-quota-sets/{target}", quotas.update),
    *both(delete, "/os-quota-sets/{target}", quotas.delete),
    *both(get, "/os-quota-class-sets/{class_name}", quotas.show_class),
    *both(put, "/os-quota-class-sets/{class_name}", quotas.update_class),
    *both(get, "/os-services", backends.services),
    *both(put, "/os-services/{action}", backends.update_service),
    *both(get, "/os-hosts", backends.hosts),
    *both(get, "/os-hosts/{host}", backends.show_host),
    *both(get, "/scheduler-stats/get_pools", backends.pools),
    *both(get, "/capabilities/{host}", backends.capabilities),
    *both(get, "/group_types", group_types.index),
    *both(post, "/group_types", group_types.create),
    *both(get, "/group_types/{id}", group_types.show),
    *both(put, "/group_types/{id}", group_types.update),
    *both(delete, "/group_types/{id}", group_types.delete),
    *both(get, "/group_types/{id}/group_specs", group_types.list_specs),
    *both(post, "/group_types/{id}/group_specs", group_types.create_specs),
    *both(get, "/group_types/{id}/group_specs/{key}", group_types.show_spec),
    *both(put, "/group_types/{id}/group_specs/{key}", group_types.update_spec),
    *both(delete, "/group_types/{id}/group_specs/{key}", group_types.delete_spec),
    *both(get, "/groups/detail", groups.detail),
    *both(post, "/groups/action", group_snapshots.create_group_from_source),
    *both(get, "/group_snapshots/detail", group_snapshots.detail),
    *both(get, "/group_snapshots", group_snapshots.index),
    *both(post, "/group_snapshots", group_snapshots.create),
    *both(get, "/group_snapshots/{id}", group_snapshots.show),
    *both(delete, "/group_snapshots/{id}", group_snapshots.delete),
    *both(post, "/group_snapshots/{id}/action", group_snapshots.action),
    *both(get, "/groups", groups.index),
    *both(post, "/groups", groups.create),
    *both(get, "/groups/{id}", groups.show),
    *both(put, "/groups/{id}", groups.update),
    *both(post, "/groups/{id}/action", groups.action),
    *both(get, "/backups/detail", backups.detail),
    *both(post, "/backups/import_record", backups.import_record),
    *both(get, "/backups/{id}/export_record", backups.export_record),
    *both(get, "/backups", backups.index),
    *both(post, "/backups", backups.create),
    *both(get, "/backups/{id}", backups.show),
    *both(put, "/backups/{id}", backups.update),
    *both(delete, "/backups/{id}", backups.delete),
    *both(post, "/backups/{id}/restore", backups.restore),
    *both(post, "/backups/{id}/action", backups.action),
    *both(get, "/qos-specs", qos.index),
    *both(post, "/qos-specs", qos.create),
    *both(get, "/qos-specs/{id}", qos.show),
    *both(put, "/qos-specs/{id}", qos.set_keys),
    *both(delete, "/qos-specs/{id}", qos.delete),
    *both(put, "/qos-specs/{id}/delete_keys", qos.delete_keys),
    *both(get, "/qos-specs/{id}/associate", qos.associate),
    *both(get, "/qos-specs/{id}/disassociate", qos.disassociate),
    *both(get, "/qos-specs/{id}/disassociate_all", qos.disassociate_all),
    *both(get, "/qos-specs/{id}/associations", qos.associations),
    *_transfers("/os-volume-transfer"),
    *_transfers("/volume-transfers"),
    *both(get, "/messages", messages.index),
    *both(get, "/messages/{id}", messages.show),
    *both(delete, "/messages/{id}", messages.delete),
    *both(get, "/limits", misc.limits),
    *both(get, "/os-availability-zone", misc.zones),
    *both(get, "/extensions", misc.extensions),
]

SERVICE = Service(
    name="block-storage",
    title="Block Storage (Cinder v3)",
    routes=ROUTES,
    contexts=[volume_ctx],
    middlewares=[microversion_middleware, volume_errors, token_middleware],
    # Both of Cinder's service types, as DevStack registers them: openstacksdk and
    # the CLI look for block-storage, older clients and Tempest's default volumev3.
    catalog=[
        CatalogEntry("block-storage", "cinder", "/v3"),
        CatalogEntry("volumev3", "cinderv3", "/v3"),
    ],
)

__all__ = ["IMAGE_LOOKUP", "SERVICE", "VOLUMES", "VOLUME_CONFIG"]
