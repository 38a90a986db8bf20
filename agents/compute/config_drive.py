"""The config drive: the instance's metadata on a read-only disk, for guests without
(or before) a network.

As Nova's, it is an ISO 9660 image labelled ``config-2`` holding
``openstack/<version>/{meta_data.json, network_data.json, vendor_data.json,
vendor_data2.json, user_data}`` for every OpenStack version the metadata
service lists, and ``ec2/<version>/{meta-data.json, user-data}``, with the
same documents the metadata service answers
(:mod:`cairn.agents.compute.instance_metadata`). It is written in-process with
pycdlib (Rock Ridge and Joliet carry the long lower-case names; cloud-init and
Linux read either), in the server's instance directory, so it goes with it.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import io
import json
from collections.abc import Sequence
from pathlib import Path

import pycdlib

from cairn.agents.compute.instance_metadata import (
    EC2_VERSIONS,
    OPENSTACK_VERSIONS,
    InstanceMetadata,
    ec2_tree,
    meta_data,
    network_data,
)
from cairn.agents.compute.nics import BoundPort
from cairn.events import compute as ev
from cairn.projections.compute_state import hostname_of

LABEL = "config-2"
FILE_NAME = "disk.config"


def contents(instance: InstanceMetadata) -> dict[str, bytes]:
    """Every file of the drive by its path (``openstack/latest/meta_data.json``, ...)."""

    def encoded(document: object) -> bytes:
        return json.dumps(document, sort_keys=True).encode()

    files: dict[str, bytes] = {}
    document = meta_data(instance)
    if instance.admin_password is not None:
        # Only the drive carries it, as in Nova: the metadata service never does.
        document["admin_pass"] = instance.admin_password
    for version in OPENSTACK_VERSIONS:
        base = f"openstack/{version}"
        files[f"{base}/meta_data.json"] = encoded(document)
        files[f"{base}/network_data.json"] = encoded(
            instance.network_data or {"links": [], "networks": [], "services": []}
        )
        files[f"{base}/vendor_data.json"] = encoded({})
        files[f"{base}/vendor_data2.json"] = encoded({})
        if instance.user_data is not None:
            files[f"{base}/user_data"] = instance.user_data
    for version in EC2_VERSIONS:
        files[f"ec2/{version}/meta-data.json"] = encoded(ec2_tree(instance))
        if instance.user_data is not None:
            files[f"ec2/{version}/user-data"] = instance.user_data
    return files


def _iso_name(name: str, taken: set[str], *, directory: bool) -> str:
    """A unique ISO 9660 level-1 name for ``name`` in its directory (8.3, upper case)."""
    stem, dot, extension = name.rpartition(".") if not directory else (name, "", "")
    if not dot:
        stem, extension = name, ""
    allowed = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
    stem = "".join(c if c in allowed else "_" for c in stem.upper())[:8] or "_"
    extension = "".join(c if c in allowed else "_" for c in extension.upper())[:3]
    candidate, n = stem, 0
    while True:
        full = candidate if directory else f"{candidate}.{extension};1"
        if full not in taken:
            taken.add(full)
            return full
        n += 1
        suffix = str(n)
        candidate = stem[: 8 - len(suffix)] + suffix


def write(path: Path, instance: InstanceMetadata) -> None:
    """Write the drive of ``instance`` to ``path`` (replacing it); blocking."""
    iso = pycdlib.PyCdlib()
    iso.new(interchange_level=1, rock_ridge="1.09", joliet=3, vol_ident=LABEL)
    names: dict[str, str] = {"": ""}  # our directory path -> its ISO path
    taken: dict[str, set[str]] = {}
    for file_path, data in sorted(contents(instance).items()):
        parts = file_path.split("/")
        for depth in range(1, len(parts)):
            directory = "/".join(parts[:depth])
            if directory in names:
                continue
            parent = names["/".join(parts[: depth - 1])]
            iso_name = _iso_name(parts[depth - 1], taken.setdefault(parent, set()), directory=True)
            names[directory] = f"{parent}/{iso_name}"
            iso.add_directory(
                names[directory], rr_name=parts[depth - 1], joliet_path=f"/{directory}"
            )
        parent = names["/".join(parts[:-1])]
        iso_name = _iso_name(parts[-1], taken.setdefault(parent, set()), directory=False)
        iso.add_fp(
            io.BytesIO(data),
            len(data),
            f"{parent}/{iso_name}",
            rr_name=parts[-1],
            joliet_path=f"/{file_path}",
        )
    partial = path.with_name(path.name + ".partial")
    try:
        iso.write(str(partial))
    finally:
        iso.close()
    partial.replace(path)


def for_request(
    request: ev.ServerCreateRequested,
    ports: Sequence[BoundPort],
    availability_zone: str,
    *,
    admin_password: str | None = None,
) -> InstanceMetadata:
    """What the drive of the server ``request`` boots tells it: the boot's name, key,
    user data and metadata, and the ports the spawn bound."""
    user_data = None
    if request.user_data:
        try:
            user_data = base64.b64decode(request.user_data)
        except (binascii.Error, ValueError):
            user_data = None  # the API validated it: a request from elsewhere
    keys = {}
    if request.key_name and request.public_key:
        keys[request.key_name] = request.public_key
    return InstanceMetadata(
        uuid=request.server_id,
        name=request.name,
        hostname=hostname_of(request.name, request.server_id),
        project_id=request.project_id,
        availability_zone=request.availability_zone or availability_zone,
        public_keys=keys,
        user_data=user_data,
        meta=dict(request.metadata),
        network_data=network_data([p.described() for p in ports]),
        launch_index=request.launch_index,
        admin_password=admin_password,
    )


async def build(instance_dir: Path, instance: InstanceMetadata) -> Path:
    """The drive of ``instance`` in its server's directory; its path."""
    path = instance_dir / FILE_NAME
    await asyncio.to_thread(write, path, instance)
    return path
