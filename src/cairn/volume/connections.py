"""Connection info: how a compute host reaches a volume (Cinder's
``initialize_connection``, ``os-initialize_connection``).

A compute host presents its *connector* (host name, its addresses, what it can
speak) and gets back ``{"driver_volume_type": ..., "data": {...}}``, which its
hypervisor driver turns into a disk. The file backend's volumes are files of a
pool the backend registered (``export_path``): on a host that shares the pool's
files the answer is ``driver_volume_type: "file"`` with the file's path and
format. A backend that must export a volume to another host (NBD, iSCSI) would
answer with its export here instead; nothing on the compute side changes but
the driver that reads the answer.

Nothing is recorded: the file backend keeps no per-host state, so terminating a
connection is only checked (``os-terminate_connection``).
"""

from __future__ import annotations

from typing import Any

from cairn.projections.volume import VolumeState
from cairn.volume import access
from cairn.volume.access import Caller
from cairn.volume.errors import Invalid

#: statuses in which a volume may be connected to (Cinder refuses others)
CONNECTABLE = frozenset({"available", "reserved", "attaching", "in-use", "detaching"})


def connection_info(
    state: VolumeState, caller: Caller, volume_id: str, connector: dict[str, Any]
) -> dict[str, Any]:
    """The connection info of ``volume_id`` for ``connector``'s host."""
    volume = access.volume(state, caller, volume_id)
    if volume.status not in CONNECTABLE:
        raise Invalid(
            f"Invalid volume: Volume {volume_id} status must be available or in-use to be "
            f"connected to, but the current status is: {volume.status}."
        )
    backend = state.backends.get(volume.host)
    if backend is None or not backend.export_path:
        raise Invalid(
            f"Invalid volume: the backend of volume {volume_id} ({volume.host}) exports it "
            "to no host."
        )
    return {
        "driver_volume_type": "file",
        "data": {
            "device_path": f"{backend.export_path.rstrip('/')}/volume-{volume_id}",
            "format": backend.volume_format,
            "volume_id": volume_id,
            "name": f"volume-{volume_id}",
            "access_mode": "ro" if volume.readonly else "rw",
            "host": connector.get("host"),
        },
    }


def terminate(state: VolumeState, caller: Caller, volume_id: str) -> None:
    """``os-terminate_connection``: the file backend has no export to take down."""
    access.volume(state, caller, volume_id)
