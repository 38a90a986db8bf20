"""The compute projection's folds of volumes in servers: which volumes each
server has (its block device mappings beyond the image's own disk), in the order
they were attached, as ``volume entries`` (:mod:`cairn.events.compute_volumes`).

A volume counts as the server's once the agent attached it (the outcome event),
not when it was asked for; a detach or the server's deletion ends it. The
volume's own status (``attaching``, ``in-use``, ...) is the volume projection's.
"""

from __future__ import annotations

from typing import Any

from cairn.events import RecordedEvent
from cairn.events import compute_volumes as ev
from cairn.projections.compute_state import ComputeState
from cairn.projections.compute_state import iso as _iso
from cairn.projections.fold import handles


class VolumeFolds:
    """Mixed into :class:`~cairn.projections.compute.ComputeProjection`."""

    @handles("ServerVolumeAttached")
    def _volume_attached(
        self, s: ComputeState, e: RecordedEvent, d: ev.ServerVolumeAttached
    ) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        volume_id = d.volume.get("volume_id")
        kept = [v for v in server.volumes if v.get("volume_id") != volume_id]
        server.volumes = [*kept, dict(d.volume)]
        server.updated_at, server.position = _iso(e), e.position
        return s

    @handles("ServerVolumeDetached")
    def _volume_detached(
        self, s: ComputeState, e: RecordedEvent, d: ev.ServerVolumeDetached
    ) -> Any:
        server = s.servers.get(d.server_id)
        if server is None:
            return s
        server.volumes = [v for v in server.volumes if v.get("volume_id") != d.volume_id]
        server.updated_at, server.position = _iso(e), e.position
        return s
