"""Glance's tasks (``/v2/tasks``): asynchronous ``import`` jobs.

An ``import`` task names an image's properties (``image_properties``) and a URL
(``import_from``); the task makes the image and fetches its data as a
web-download does (:mod:`cairn.image.web_download`, the same filtering, checked
before the task is accepted). Its status goes ``pending`` -> ``processing`` ->
``success`` (``result: {"image_id": ...}``) or ``failure`` (``message``), each a
``TaskStatusChanged`` on ``task-<id>``; a finished task expires after
:data:`TTL`, as Glance's do. A task still running when the service stops is
failed on the next start.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cairn.app import Decider
from cairn.events import NO_STREAM, Metadata, registry
from cairn.events import image as ev
from cairn.image.errors import Conflict, NotFound
from cairn.projections.image import ImageState
from cairn.store.port import StreamWrite

TTL = 48 * 3600.0
FINISHED = ("success", "failure")


def task_stream(task_id: str) -> str:
    return f"task-{task_id}"


def create(task_id: str, owner: str | None, type: str, input: dict[str, Any],
           meta: Metadata) -> Decider[ImageState]:  # fmt: skip
    def decide(state: ImageState) -> Sequence[StreamWrite]:
        if task_id in state.tasks:
            raise Conflict(f"Task {task_id} exists.")
        event = ev.TaskCreated(task_id=task_id, owner=owner, type=type, input=input)
        return [StreamWrite(task_stream(task_id), [registry.new(event, meta)], NO_STREAM)]

    return decide


def set_status(task_id: str, status: str, meta: Metadata, *, result: dict[str, Any] | None = None,
               message: str = "", now: float | None = None) -> Decider[ImageState]:  # fmt: skip
    def decide(state: ImageState) -> Sequence[StreamWrite]:
        task = state.tasks.get(task_id)
        if task is None:
            raise NotFound(f"Task {task_id} not found.")
        if task.status in FINISHED:
            return []
        expires = now + TTL if now is not None and status in FINISHED else None
        event = ev.TaskStatusChanged(task_id=task_id, status=status, result=result,
                                     message=message[:1024], expires_at=expires)  # fmt: skip
        stream = task_stream(task_id)
        return [StreamWrite(stream, [registry.new(event, meta)], state.versions[stream])]

    return decide
