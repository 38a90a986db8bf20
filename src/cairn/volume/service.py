"""The block storage control plane as one object: what the API and the runtime hold.

:class:`Volumes` owns the volume read model's runner and a command executor over
it. A command is a function of the state that puts its events on a
:class:`~cairn.volume.writes.Writes`; :meth:`Volumes.run` decides it, appends
the writes atomically and, when a stream moved meanwhile (two creates of one
project on its quota stream), decides it again against the state with the winner.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TypeVar

from cairn.app.executor import CommandExecutor
from cairn.events import Metadata
from cairn.logs import get_logger
from cairn.projections.volume import VolumeProjection, VolumeState
from cairn.readmodel import ProjectionRunner
from cairn.store.port import EventStore, StreamWrite
from cairn.volume import types
from cairn.volume.config import DEFAULT_TYPE, VolumeConfig
from cairn.volume.writes import Writes

log = get_logger(__name__)
T = TypeVar("T")
#: re-decisions on conflicts before giving up (a burst of creates of one project)
MAX_ATTEMPTS = 50

Command = Callable[[VolumeState, Writes], T]


class Volumes:
    def __init__(self, store: EventStore, config: VolumeConfig) -> None:
        self.store = store
        self.config = config
        self.runner: ProjectionRunner[VolumeState] = ProjectionRunner(store, VolumeProjection())
        self.executor = CommandExecutor(store, self.runner, max_attempts=MAX_ATTEMPTS)

    @property
    def state(self) -> VolumeState:
        return self.runner.state

    async def start(self) -> None:
        await self.runner.start()

    async def stop(self) -> None:
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

    async def bootstrap(self) -> None:
        """The default volume type, unless it exists (idempotent)."""
        meta = Metadata(request_id="cairn-volume-bootstrap", user_id="cairn-bootstrap")
        type_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "cairn:volume-type:" + DEFAULT_TYPE))

        def default(state: VolumeState, w: Writes) -> None:
            if state.type_named(DEFAULT_TYPE) is None:
                types.create(state, type_id, DEFAULT_TYPE, w, description="Default Volume Type")

        await self.run(meta, default)
        log.info("block storage ready", volumes=len(self.state.volumes))
