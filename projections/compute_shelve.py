"""The compute projection's folds of shelving (:mod:`cairn.events.compute_shelve`).

A shelved server keeps its quota (Nova counts instances, cores and RAM of
every server not deleted, shelved ones included, by default); only the host's
claim goes when it is offloaded (``HostResourcesReleased``, folded with the
other claims), and an unshelve claims a host again through the scheduler
(the server joins ``pending``). Rescue folds nothing of its own: its actions
end in vm_state ``rescued`` and ``active`` like any other action.

A mixin of :class:`~cairn.projections.compute.ComputeProjection`, whose
helpers (``_touch``, ``_transition``, ``_start_action``, ``_finish_action``)
it uses.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from cairn.events import RecordedEvent
from cairn.events import compute_shelve as ev
from cairn.projections.compute_state import ComputeState, Fault, Server
from cairn.projections.compute_state import epoch as _epoch
from cairn.projections.compute_state import iso as _iso
from cairn.projections.fold import handles

#: Nova's power state "shutdown": a shelved guest is off
SHUTDOWN = 4


class ShelveFolds:
    if TYPE_CHECKING:  # defined by ComputeProjection

        @staticmethod
        def _touch(server: Server, event: RecordedEvent) -> None: ...

        @staticmethod
        def _transition(
            s: ComputeState, server: Server, event: RecordedEvent, restart: bool = False
        ) -> None: ...

        @staticmethod
        def _start_action(server: Server, event: RecordedEvent, action: str) -> None: ...

        @staticmethod
        def _finish_action(
            server: Server,
            event: RecordedEvent,
            action: str,
            result: str,
            host: str | None = None,
            details: str | None = None,
        ) -> None: ...

    @handles("ServerShelveProgressed")
    def _shelve_progressed(
        self, s: ComputeState, e: RecordedEvent, d: ev.ServerShelveProgressed
    ) -> Any:
        server = s.servers.get(d.server_id)
        if server is not None and not server.deleted and server.task_state != "deleting":
            server.task_state = d.task_state
            self._touch(server, e)
        return s

    @handles("ServerShelved")
    def _shelved(self, s: ComputeState, e: RecordedEvent, d: ev.ServerShelved) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        server.vm_state, server.power_state = "shelved", SHUTDOWN
        server.shelved_image_id, server.shelved_at = d.image_id, _epoch(e)
        self._touch(server, e)
        return s

    @handles("ServerShelveOffloaded")
    def _offloaded(self, s: ComputeState, e: RecordedEvent, d: ev.ServerShelveOffloaded) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted or server.host != d.host:
            return s
        # On no host now; the zone it was in stays shown, as Nova keeps the
        # instance's availability_zone.
        server.vm_state, server.power_state, server.host = "shelved_offloaded", SHUTDOWN, None
        self._touch(server, e)
        return s

    @handles("ServerUnshelveRequested")
    def _unshelve_requested(
        self, s: ComputeState, e: RecordedEvent, d: ev.ServerUnshelveRequested
    ) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        if d.set_zone:
            server.availability_zone = d.availability_zone
        server.requested_host = d.requested_host
        # A new placement: every host may be tried again.
        server.tried_hosts, server.attempt, server.retryable = [], 1, True
        server.last_failure = None
        server.task_state = "unshelving"
        s.pending[d.server_id] = None
        self._start_action(server, e, "unshelve")
        self._touch(server, e)
        self._transition(s, server, e, restart=True)
        server.pending_action = "unshelve"
        return s

    @handles("ServerUnshelved")
    def _unshelved(self, s: ComputeState, e: RecordedEvent, d: ev.ServerUnshelved) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted:
            return s
        if server.task_state != "deleting":
            server.vm_state, server.task_state = "active", None
        server.power_state, server.host = 1, d.host
        server.launched_at, server.instance_name = d.launched_at, d.instance_name
        server.console_log, server.addresses = d.console_log, dict(d.addresses)
        server.shelved_image_id, server.shelved_at = None, 0.0
        self._finish_action(server, e, "unshelve", "Success", host=d.host)
        self._touch(server, e)
        self._transition(s, server, e)
        return s

    @handles("ServerUnshelveFailed")
    def _unshelve_failed(
        self, s: ComputeState, e: RecordedEvent, d: ev.ServerUnshelveFailed
    ) -> Any:
        server = s.servers.get(d.server_id)
        if server is None or server.deleted or server.host != d.host:
            return s
        server.host = None
        if server.task_state != "deleting":
            server.task_state = None
        server.fault = Fault(500, d.reason, "", _iso(e))
        self._finish_action(server, e, "unshelve", "Error", host=d.host, details=d.reason)
        self._touch(server, e)
        self._transition(s, server, e)
        return s


def unshelve_unplaced(server: Server, event: RecordedEvent, fault: Fault) -> bool:
    """An unshelve no host could take leaves the server SHELVED_OFFLOADED with the
    fault (Nova's NoValidHost on unshelve), not in ERROR as a boot would be;
    True when ``server`` was such an unshelve."""
    if server.vm_state != "shelved_offloaded":
        return False
    server.task_state, server.fault = None, fault
    return True
