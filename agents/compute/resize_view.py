"""What the compute agent knows of a server's resize: a pure fold of its migration events.

Part of :mod:`.server_view`'s fold: the resize (or cold migration) requested,
how far the agent got (its progress events), whether it reached VERIFY_RESIZE,
and a confirm or revert waiting. :func:`owed` says which of the three steps
the host owes the server, if any.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from cairn.events import DomainEvent, RecordedEvent
from cairn.events import compute_migration as mev

#: the migration events this fold takes
EVENTS = (
    mev.ServerResizeRequested,
    mev.ServerResizeProgressed,
    mev.ServerResized,
    mev.ServerResizeFailed,
    mev.ServerResizeConfirmRequested,
    mev.ServerResizeConfirmed,
    mev.ServerResizeRevertRequested,
    mev.ServerResizeReverted,
)


@dataclass(frozen=True)
class MigrationView:
    request: mev.ServerResizeRequested
    #: the request's event: the cause of the resize's outcomes
    event: RecordedEvent
    #: the last task state the agent reported (``resize_migrating``, ...)
    progress: str | None = None
    #: VERIFY_RESIZE reached: the new guest is there, the old disk kept
    resized: bool = False
    confirm_event: RecordedEvent | None = None
    revert_event: RecordedEvent | None = None


def apply(
    view: MigrationView | None, event: DomainEvent, recorded: RecordedEvent
) -> MigrationView | None:
    """The migration after ``event`` (None: no resize under way or unsettled)."""
    if isinstance(event, mev.ServerResizeRequested):
        return MigrationView(event, recorded)
    if view is None or getattr(event, "migration_id", None) != view.request.migration_id:
        return view
    match event:
        case mev.ServerResizeProgressed():
            return dataclasses.replace(view, progress=event.task_state)
        case mev.ServerResized():
            return dataclasses.replace(view, resized=True)
        case mev.ServerResizeConfirmRequested():
            return dataclasses.replace(view, confirm_event=recorded)
        case mev.ServerResizeRevertRequested():
            return dataclasses.replace(view, revert_event=recorded)
        case mev.ServerResizeFailed() | mev.ServerResizeConfirmed() | mev.ServerResizeReverted():
            return None
    return view


def owed(view: MigrationView | None, host: str) -> str | None:
    """``resize``, ``confirm``, ``revert``, or None: what ``host`` has to do."""
    if view is None or view.request.dest_host != host:
        return None
    if not view.resized:
        return "resize"
    if view.revert_event is not None:
        return "revert"
    if view.confirm_event is not None:
        return "confirm"
    return None
