"""What the compute agent knows of one server: a pure fold of its stream.

The agent decides every step from the server's whole stream, read from the
store when something happens to it (a request arrived, the guest changed state,
the agent restarted). Deciding from the stream, not from the one event that
woke the agent, is what makes the agent idempotent and restartable: a
redelivered request finds its outcome already in the stream and does nothing,
and a request whose delivery was lost is found pending on the next look.

:func:`next_step` says what the agent of ``host`` has to do for the server.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

import msgspec

from cairn.agents.compute import resize_view
from cairn.events import RecordedEvent, registry
from cairn.events import compute as ev
from cairn.events import compute_migration as mev
from cairn.events import compute_shelve as shelve_ev
from cairn.events import compute_volumes as cv


class Step(enum.Enum):
    NOTHING = "nothing"
    SPAWN = "spawn"
    #: The agent started this spawn too often already (it died mid-spawn each time): fail it.
    FAIL_SPAWN = "fail-spawn"
    ACTION = "action"
    REBUILD = "rebuild"
    #: Boot an offloaded server's guest from its shelved image (shelve_steps.py).
    UNSHELVE = "unshelve"
    #: A resize (or cold migration) to carry out, confirm or revert (resize_steps.py).
    RESIZE = "resize"
    CONFIRM_RESIZE = "confirm-resize"
    REVERT_RESIZE = "revert-resize"
    DELETE = "delete"
    #: Nothing requested: compare the guest with what the log says.
    SYNC = "sync"


#: A spawn the agent started this many times (and died in) is failed, not retried.
MAX_SPAWN_STARTS = 2


@dataclass
class ServerView:
    server_id: str
    #: The stream's version: the expected version of the agent's next append.
    version: int = 0
    created: ev.ServerCreateRequested | None = None
    create_event: RecordedEvent | None = None
    host: str | None = None
    attempt: int = 0
    scheduled_event: RecordedEvent | None = None
    #: ServerSpawnStarted seen for the current attempt.
    spawn_starts: int = 0
    spawned: bool = False
    spawn_failed: bool = False
    instance_name: str | None = None
    #: Nova's vm_state: building, active, stopped, paused, suspended, error, deleted.
    vm_state: str = "building"
    action: ev.ServerActionRequested | None = None
    action_event: RecordedEvent | None = None
    delete: ev.ServerDeleteRequested | None = None
    delete_event: RecordedEvent | None = None
    deleted: bool = False
    rebuild: ev.ServerRebuildRequested | None = None
    rebuild_event: RecordedEvent | None = None
    #: the server's NICs now: the boot's, plus hot-plugged, minus unplugged ones
    #: (what a rebuilt guest is given)
    nics: list[dict[str, str]] = field(default_factory=list)
    #: the volumes in the server now (volume entries, :mod:`cairn.events.compute_volumes`):
    #: what a rebuilt guest gets again, and what a delete detaches
    volumes: list[dict[str, str]] = field(default_factory=list)
    #: the image a shelve uploaded the disk to (until an unshelve deletes it)
    shelved_image_id: str | None = None
    #: an offloaded server waiting to be booted again where it was scheduled
    unshelving: bool = False
    #: the resize under way or waiting to be confirmed or reverted
    migration: resize_view.MigrationView | None = None

    @property
    def project_id(self) -> str | None:
        return None if self.created is None else self.created.project_id

    def on_host(self, host: str) -> bool:
        """Whether the server lives on ``host``: placed there, its spawn not failed,
        not deleted. Such a server holds its claim on the host."""
        return self.host == host and not self.spawn_failed and not self.deleted


def fold(server_id: str, events: list[RecordedEvent]) -> ServerView:
    view = ServerView(server_id)
    for recorded in events:
        apply(view, recorded)
    return view


def apply(view: ServerView, recorded: RecordedEvent) -> None:
    view.version = recorded.version
    try:
        event = registry.decode(recorded)
    except LookupError:
        return  # a type this agent does not know (a newer control plane): not ours to act on
    match event:
        case ev.ServerCreateRequested():
            view.created, view.create_event = event, recorded
            view.nics = [dict(n) for n in event.networks]
        case ev.ServerScheduled():
            view.host, view.attempt, view.scheduled_event = event.host, event.attempt, recorded
            view.spawn_starts, view.spawned, view.spawn_failed = 0, False, False
            view.vm_state = "building"
        case ev.ServerScheduleFailed():
            view.host, view.vm_state = None, "error"
            view.unshelving = False
        case ev.ServerSpawnStarted():
            view.spawn_starts += 1
        case ev.ServerSpawned():
            view.spawned, view.instance_name, view.vm_state = True, event.instance_name, "active"
        case ev.ServerSpawnFailed():
            view.spawn_failed = True
        case ev.ServerActionRequested():
            view.action, view.action_event = event, recorded
        case ev.ServerActionCompleted():
            view.action, view.action_event, view.vm_state = None, None, event.vm_state
            if event.action == "unshelve":
                view.shelved_image_id = None
        case shelve_ev.ServerShelved():
            view.shelved_image_id, view.vm_state = event.image_id, "shelved"
        case shelve_ev.ServerShelveOffloaded():
            view.host, view.vm_state = None, "shelved_offloaded"
        case shelve_ev.ServerUnshelveRequested():
            view.unshelving = True
        case shelve_ev.ServerUnshelved():
            view.unshelving, view.spawned, view.vm_state = False, True, "active"
            view.instance_name, view.shelved_image_id = event.instance_name, None
        case shelve_ev.ServerUnshelveFailed():
            view.unshelving, view.spawned = False, True
            view.host, view.vm_state = None, "shelved_offloaded"
        case ev.ServerActionFailed():
            view.action, view.action_event = None, None
        case ev.ServerPowerStateChanged():
            view.vm_state = event.vm_state
        case ev.ServerInterfaceAttached():
            port = event.nic.get("port")
            view.nics = [*(n for n in view.nics if n.get("port") != port), dict(event.nic)]
        case ev.ServerInterfaceDetached():
            view.nics = [n for n in view.nics if n.get("port") != event.port_id]
        case cv.ServerVolumeAttached():
            volume_id = event.volume.get("volume_id")
            kept = [v for v in view.volumes if v.get("volume_id") != volume_id]
            view.volumes = [*kept, dict(event.volume)]
        case cv.ServerVolumeDetached():
            view.volumes = [v for v in view.volumes if v.get("volume_id") != event.volume_id]
        case ev.ServerRebuildRequested():
            view.rebuild, view.rebuild_event = event, recorded
        case ev.ServerRebuilt():
            if view.created is not None and view.rebuild is not None:
                view.created = rebuilt(view.created, view.rebuild)
            view.rebuild = view.rebuild_event = None
            view.vm_state = event.vm_state
        case _ if isinstance(event, resize_view.EVENTS):
            _resize(view, event, recorded)
        case ev.ServerStateReset():
            # An admin's reset ends a resize where it is (the reset settled its
            # claim): no step of it is owed any more, a step under way stops.
            view.migration = None
        case ev.ServerDeleteRequested():
            view.delete, view.delete_event = event, recorded
        case ev.ServerDeleted():
            view.deleted, view.vm_state = True, "deleted"
            view.action = view.delete = view.rebuild = None
            view.unshelving = False
        case ev.ServerErrored():
            # An error ends whatever was under way; a later delete request starts anew.
            view.vm_state = "error"
            view.action = view.action_event = None
            view.unshelving = False
            view.delete = view.delete_event = None
            if view.created is not None and view.rebuild is not None:
                view.created = rebuilt(view.created, view.rebuild)  # what it was rebuilding to
            view.rebuild = view.rebuild_event = None
        case _:
            pass


def next_step(view: ServerView, host: str) -> Step:
    """What the agent of ``host`` has to do for the server now."""
    if view.deleted or view.created is None:
        return Step.NOTHING
    if view.delete is not None and view.delete.host == host:
        return Step.DELETE
    if view.host != host or view.spawn_failed:
        return Step.NOTHING
    if view.unshelving:
        return Step.UNSHELVE
    if not view.spawned:
        if view.vm_state != "building":
            return Step.NOTHING  # errored while building: the guest, if any, waits for delete
        return Step.FAIL_SPAWN if view.spawn_starts >= MAX_SPAWN_STARTS else Step.SPAWN
    if view.rebuild is not None and view.rebuild.host == host:
        return Step.REBUILD
    owed = resize_view.owed(view.migration, host)
    if owed is not None:
        return _RESIZE_STEPS[owed]
    if view.action is not None and view.action.host == host:
        return Step.ACTION
    return Step.SYNC


_RESIZE_STEPS = {
    "resize": Step.RESIZE,
    "confirm": Step.CONFIRM_RESIZE,
    "revert": Step.REVERT_RESIZE,
}


def _resize(view: ServerView, event: object, recorded: RecordedEvent) -> None:
    """A migration event: the resize's own fold, and the flavor and vm_state the
    guest has after it (what a later rebuild builds from)."""
    assert isinstance(event, resize_view.EVENTS)
    before = view.migration
    view.migration = resize_view.apply(before, event, recorded)
    if before is None or view.created is None:
        return
    request = before.request
    match event:
        case mev.ServerResized():
            view.created = msgspec.structs.replace(view.created, flavor=request.new_flavor)
            view.vm_state = "resized"
        case mev.ServerResizeFailed() | mev.ServerResizeReverted():
            view.created = msgspec.structs.replace(view.created, flavor=request.old_flavor)
            view.vm_state = event.vm_state
        case mev.ServerResizeConfirmed():
            view.vm_state = event.vm_state


def rebuilt(
    created: ev.ServerCreateRequested, rebuild: ev.ServerRebuildRequested
) -> ev.ServerCreateRequested:
    """The boot request as the rebuild changed it: what the new guest is built from."""
    return msgspec.structs.replace(
        created,
        image=rebuild.image,
        name=rebuild.name,
        metadata=dict(rebuild.metadata),
        key_name=rebuild.key_name,
        public_key=rebuild.public_key,
        user_data=rebuild.user_data,
        description=rebuild.description,
    )
