"""Deciders for Cinder's legacy attach actions: ``os-reserve``, ``os-unreserve``,
``os-attach``, ``os-begin_detaching``, ``os-roll_detaching``, ``os-detach`` and an
admin's ``os-force_detach``.

They record what a compute service tells the volume service (Nova calls them
around its own hot-plug): only the volume's status and attachments change, no
file is touched. A volume attached to a server cannot be deleted.
"""

from __future__ import annotations

from cairn.events import volume as ev
from cairn.projections.volume import VolumeState, volume_stream
from cairn.volume import access
from cairn.volume.access import Caller
from cairn.volume.errors import Invalid
from cairn.volume.writes import Writes


def reserve(state: VolumeState, caller: Caller, volume_id: str, w: Writes) -> None:
    volume = access.volume(state, caller, volume_id)
    allowed = ("available", "in-use") if volume.multiattach else ("available",)
    if volume.status not in allowed:
        raise Invalid(
            "Invalid volume: Volume status must be available to reserve, but the current "
            f"status is: {volume.status}."
        )
    w.add(volume_stream(volume_id), ev.VolumeReserved(volume_id=volume_id))


def unreserve(state: VolumeState, caller: Caller, volume_id: str, w: Writes) -> None:
    volume = access.volume(state, caller, volume_id)
    if volume.status == "attaching":
        w.add(volume_stream(volume_id), ev.VolumeUnreserved(volume_id=volume_id))


def attach(
    state: VolumeState,
    caller: Caller,
    volume_id: str,
    w: Writes,
    *,
    attachment_id: str,
    server_id: str | None,
    host_name: str | None,
    mountpoint: str,
    mode: str,
) -> None:
    volume = access.volume(state, caller, volume_id)
    allowed = {"available", "attaching"} | ({"in-use"} if volume.multiattach else set())
    if volume.status not in allowed:
        raise Invalid(
            f"Invalid volume: Volume {volume_id} status must be available or attaching to "
            f"attach, but the current status is: {volume.status}."
        )
    if volume.readonly and mode != "ro":
        raise Invalid(f"Invalid volume: Volume {volume_id} is read-only: attach it 'ro'.")
    w.add(
        volume_stream(volume_id),
        ev.VolumeAttached(
            volume_id=volume_id,
            attachment_id=attachment_id,
            server_id=server_id,
            host_name=host_name,
            mountpoint=mountpoint,
            mode=mode,
        ),
    )


def begin_detaching(state: VolumeState, caller: Caller, volume_id: str, w: Writes) -> None:
    volume = access.volume(state, caller, volume_id)
    if volume.status != "in-use" or volume.attach_status != "attached":
        raise Invalid(
            "Invalid volume: Unable to detach volume. Volume status must be 'in-use' and "
            "attach_status must be 'attached' to detach."
        )
    w.add(volume_stream(volume_id), ev.VolumeDetachBegun(volume_id=volume_id))


def roll_detaching(state: VolumeState, caller: Caller, volume_id: str, w: Writes) -> None:
    volume = access.volume(state, caller, volume_id)
    if volume.status == "detaching":
        w.add(volume_stream(volume_id), ev.VolumeDetachRolledBack(volume_id=volume_id))


def detach(
    state: VolumeState,
    caller: Caller,
    volume_id: str,
    w: Writes,
    *,
    attachment_id: str | None,
    force: bool = False,
) -> None:
    volume = access.volume(state, caller, volume_id)
    if not volume.attachments:
        # As Cinder's manager: a detach of a volume with no attachment leaves it
        # available and detached (a status an admin reset is made consistent).
        if volume.status != "available" or volume.attach_status != "detached":
            w.add(
                volume_stream(volume_id),
                ev.VolumeDetached(volume_id=volume_id, attachment_id=""),
            )
        return
    if attachment_id is None:
        if len(volume.attachments) > 1 and not force:
            raise Invalid(
                "Invalid volume: Detach volume from instance failed: the volume has several "
                "attachments; name one (attachment_id)."
            )
        ended = [a.id for a in volume.attachments]
    else:
        ended = [a.id for a in volume.attachments if a.id == attachment_id]
        if not ended:
            raise Invalid(
                f"Invalid volume: Attachment {attachment_id} of volume {volume_id} could "
                "not be found."
            )
    for ident in ended:
        w.add(volume_stream(volume_id), ev.VolumeDetached(volume_id=volume_id, attachment_id=ident))
