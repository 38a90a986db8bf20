"""Volume transfers between projects: offer a volume with a key, the project that
presents the key takes it (Cinder's os-volume-transfer).

Every event of a transfer is on the volume's stream, so an offer, an accept and
any other change of the volume are decided one after the other. Accepting takes
the receiving project's quota (volumes, gigabytes, and the snapshots that move)
in the same append, on its quota stream; the giving project's usage drops when
the accept is folded. Only a salted SHA-256 of the key is in the log.
"""

from __future__ import annotations

import hashlib
import hmac

from cairn.events import volume as ev
from cairn.projections.volume import Transfer, VolumeState, volume_stream
from cairn.volume import access, quota
from cairn.volume.access import Caller
from cairn.volume.config import VolumeConfig
from cairn.volume.errors import Invalid, NotFound
from cairn.volume.writes import Writes


def key_hash(salt: str, key: str) -> str:
    return hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()


def find(state: VolumeState, caller: Caller, transfer_id: str) -> Transfer:
    """A transfer of the caller's project (or any, for admins)."""
    found = state.transfers.get(transfer_id)
    if found is None or not (caller.is_admin or found.project_id == caller.project_id):
        raise NotFound(f"Transfer {transfer_id} could not be found.")
    return found


def create(
    state: VolumeState,
    caller: Caller,
    w: Writes,
    *,
    transfer_id: str,
    volume_id: str,
    name: str | None,
    salt: str,
    key: str,
    no_snapshots: bool,
) -> None:
    volume = access.volume(state, caller, volume_id)
    if volume.status != "available" or volume.attachments:
        raise Invalid(
            f"Invalid volume: status must be available (volume {volume_id} is {volume.status})."
        )
    if not no_snapshots:
        for snapshot in state.snapshots_of(volume_id):
            if snapshot.status != "available":
                raise Invalid(
                    f"Invalid snapshot: snapshot {snapshot.id} of volume {volume_id} is "
                    f"{snapshot.status}, not available."
                )
    w.add(
        volume_stream(volume_id),
        ev.VolumeTransferCreated(
            transfer_id=transfer_id,
            volume_id=volume_id,
            project_id=volume.project_id,
            name=name,
            salt=salt,
            key_hash=key_hash(salt, key),
            no_snapshots=no_snapshots,
        ),
    )


def delete(state: VolumeState, caller: Caller, transfer_id: str, w: Writes) -> None:
    transfer = find(state, caller, transfer_id)
    w.add(
        volume_stream(transfer.volume_id),
        ev.VolumeTransferDeleted(transfer_id=transfer_id, volume_id=transfer.volume_id),
    )


def accept(
    state: VolumeState,
    caller: Caller,
    config: VolumeConfig,
    transfer_id: str,
    key: str,
    w: Writes,
) -> Transfer:
    transfer = state.transfers.get(transfer_id)
    if transfer is None:
        raise NotFound(f"Transfer {transfer_id} could not be found.")
    if not hmac.compare_digest(transfer.key_hash, key_hash(transfer.salt, key)):
        raise Invalid(f"Invalid auth key: Attempt to transfer {transfer_id} with invalid auth key.")
    volume = state.volumes[transfer.volume_id]
    moving = [] if transfer.no_snapshots else state.snapshots_of(volume.id)
    quota.take(
        w,
        config.quotas,
        caller.project_id,
        volumes=1,
        gigabytes=volume.size + sum(s.size for s in moving),
        snapshots=len(moving),
        volume_type=volume.volume_type,
    )
    w.add(
        volume_stream(volume.id),
        ev.VolumeTransferAccepted(
            transfer_id=transfer_id,
            volume_id=volume.id,
            from_project=transfer.project_id,
            to_project=caller.project_id,
            user_id=caller.user_id,
        ),
    )
    return transfer
