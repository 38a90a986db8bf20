"""Compute's side of block storage: volumes in servers (Nova's block device mappings).

A volume reaches a guest in three steps, each an event:

1. API: the volume service reserves the volume for the server (``os-reserve``:
   :class:`~cairn.events.volume.VolumeReserved`, ``attaching``), then the
   compute API appends :class:`~cairn.events.compute.ServerActionRequested`
   with ``action="attach_volume"`` and ``volume`` (:func:`volume_entry`'s
   shape) on the server's stream.
2. The agent of the server's host asks the volume service how to reach the
   volume (``os-initialize_connection``: Cinder's connection info, here
   ``driver_volume_type: file`` and the file's path), hot-plugs it into the guest
   with the volume id as the disk's serial, and appends, in one append,
   :class:`ServerVolumeAttached` + the action's completion on the server's
   stream and :class:`~cairn.events.volume.VolumeAttached` on the volume's
   (``in-use``, the attachment naming the server and the host).
3. A detach is the same in reverse (``os-begin_detaching``: ``detaching``;
   :class:`ServerVolumeDetached` + :class:`~cairn.events.volume.VolumeDetached`:
   ``available``).

A volume entry is a ``dict[str, str]`` (as a NIC entry is): ``volume_id``,
``attachment_id`` (the volume's attachment, chosen by the API), ``device``
(``/dev/vdb``), ``tag`` (``""`` for none), ``delete_on_termination``
(``"true"``/``"false"``) and, for a server's boot volume, ``boot_index``.
"""

from __future__ import annotations

from cairn.events.registry import DomainEvent, registry


def volume_entry(
    volume_id: str,
    attachment_id: str,
    device: str,
    *,
    tag: str | None = None,
    delete_on_termination: bool = False,
    boot_index: int | None = None,
) -> dict[str, str]:
    """A volume entry as requests and outcomes carry it."""
    entry = {
        "volume_id": volume_id,
        "attachment_id": attachment_id,
        "device": device,
        "tag": tag or "",
        "delete_on_termination": "true" if delete_on_termination else "false",
    }
    if boot_index is not None:
        entry["boot_index"] = str(boot_index)
    return entry


def unattached_boot_volumes(
    boot: list[dict[str, str]], attached: list[dict[str, str]], *, spawned: bool
) -> list[dict[str, str]]:
    """The boot's volume entries a server that never spawned still owns (none once
    it spawned: they were attached then, and a volume detached since is no longer
    the server's)."""
    if spawned:
        return []
    have = {e.get("volume_id") for e in attached}
    return [e for e in boot if e.get("volume_id") not in have]


@registry.event
class ServerVolumeAttached(DomainEvent, frozen=True):
    """The guest has the volume of ``volume`` (an entry) as a disk whose serial is
    the volume id. Appended with the ``attach_volume`` action's completion (or with
    :class:`~cairn.events.compute.ServerSpawned` for a boot's volumes)."""

    server_id: str
    host: str
    volume: dict[str, str]


@registry.event
class ServerVolumeDetached(DomainEvent, frozen=True):
    """The guest no longer has the volume ``volume_id`` (its attachment
    ``attachment_id`` ended). Appended with the ``detach_volume`` action's
    completion, or with :class:`~cairn.events.compute.ServerDeleted`."""

    server_id: str
    host: str
    volume_id: str
    attachment_id: str = ""
