"""The block storage control plane as one object: what the API and the runtime hold.

:class:`Volumes` owns the volume read model's runner and a command executor over
it. A command is a function of the state that puts its events on a
:class:`~cairn.volume.writes.Writes`; :meth:`Volumes.run` decides it, appends
the writes atomically and, when a stream moved meanwhile (two creates of one
project on its quota stream), decides it again against the state with the winner.

Volume creates are the hot path, and every create of a project appends to its
quota stream: decided one at a time, concurrent creates would conflict with each
other. So concurrent creates of one project are gathered and decided in order in
one append (:meth:`Volumes.create`), each counting the quota the ones before it
took (``Writes.taken``); a refused one leaves nothing in the others' append (a
create checks everything before it writes).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from cairn.app.executor import CommandExecutor
from cairn.events import Metadata
from cairn.logs import get_logger
from cairn.projections.volume import VolumeProjection, VolumeState
from cairn.readmodel import ProjectionRunner
from cairn.store.port import EventStore, StreamWrite
from cairn.volume import types, volumes
from cairn.volume.access import Caller
from cairn.volume.config import DEFAULT_TYPE, VolumeConfig
from cairn.volume.errors import VolumeError
from cairn.volume.volumes import CreateVolume
from cairn.volume.writes import Writes

log = get_logger(__name__)
T = TypeVar("T")
#: re-decisions on conflicts before giving up (a burst of creates of one project)
MAX_ATTEMPTS = 50

#: volume creates of one project decided in one append, at most
CREATE_BATCH = 64

Command = Callable[[VolumeState, Writes], T]


@dataclass
class _CreateRequest:
    caller: Caller
    wanted: CreateVolume
    meta: Metadata
    done: asyncio.Future[None] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class Volumes:
    def __init__(self, store: EventStore, config: VolumeConfig) -> None:
        self.store = store
        self.config = config
        self.runner: ProjectionRunner[VolumeState] = ProjectionRunner(store, VolumeProjection())
        self.executor = CommandExecutor(store, self.runner, max_attempts=MAX_ATTEMPTS)
        self._creates: defaultdict[str, list[_CreateRequest]] = defaultdict(list)
        self._draining: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def state(self) -> VolumeState:
        return self.runner.state

    async def start(self) -> None:
        await self.runner.start()

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(BaseException):  # each request got its own outcome
                await task
        await self.runner.stop()

    async def run(self, meta: Metadata, command: Command[T]) -> T:
        """Decide ``command``, append its writes, read them back; returns what the
        command returned on the state that won."""
        result: list[T] = []

        def decide(state: VolumeState) -> list[StreamWrite]:
            writes = Writes(state, meta)
            result[:] = [command(state, writes)]
            return writes.result()

        await self.executor.execute(decide)
        return result[0]

    # -- volume creates, batched per project ----------------------------------------

    async def create(self, caller: Caller, wanted: CreateVolume, meta: Metadata) -> None:
        """Decide one volume create (with the other creates of its project waiting now)."""
        request = _CreateRequest(caller, wanted, meta)
        project = caller.project_id
        self._creates[project].append(request)
        if project not in self._draining:
            self._draining.add(project)
            task = asyncio.get_running_loop().create_task(self._drain(project))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        await request.done

    async def _drain(self, project: str) -> None:
        try:
            while self._creates[project]:
                batch = self._creates[project][:CREATE_BATCH]
                del self._creates[project][:CREATE_BATCH]
                await self._decide_creates(batch)
        finally:
            self._draining.discard(project)
            for request in self._creates.pop(project, []):
                if not request.done.done():
                    request.done.cancel()

    async def _decide_creates(self, batch: list[_CreateRequest]) -> None:
        refused: dict[int, VolumeError] = {}

        def decide(state: VolumeState) -> list[StreamWrite]:
            refused.clear()
            writes = Writes(state, batch[0].meta)
            for index, request in enumerate(batch):
                writes.meta = request.meta
                try:
                    volumes.create(state, request.caller, self.config, request.wanted, writes)
                except VolumeError as exc:
                    refused[index] = exc
            return writes.result()

        try:
            await self.executor.execute(decide)
        except BaseException as exc:
            for request in batch:
                if not request.done.done():
                    request.done.set_exception(exc)
            if isinstance(exc, asyncio.CancelledError):
                raise
            return
        for index, request in enumerate(batch):
            if index in refused:
                request.done.set_exception(refused[index])
            else:
                request.done.set_result(None)

    async def bootstrap(self) -> None:
        """The default volume type, unless it exists (idempotent)."""
        meta = Metadata(request_id="cairn-volume-bootstrap", user_id="cairn-bootstrap")
        type_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "cairn:volume-type:" + DEFAULT_TYPE))

        def default(state: VolumeState, w: Writes) -> None:
            if state.type_named(DEFAULT_TYPE) is None:
                types.create(state, type_id, DEFAULT_TYPE, w, description="Default Volume Type")

        await self.run(meta, default)
        log.info("block storage ready", volumes=len(self.state.volumes))
