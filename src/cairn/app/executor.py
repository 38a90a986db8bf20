"""The command executor: append what a decider returns, re-deciding on conflict.

A decider sees the read model's state as of some position and states, for each
stream it writes, the version it saw. If another writer got there first the
store refuses the whole append and nothing is written; the executor then waits
until the read model has folded everything up to the log's head, so the next
decision sees the write that won, and decides again. A decider that finds
nothing to do returns no writes: the command succeeds without an append.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from cairn.errors import CairnError
from cairn.logs import get_logger
from cairn.readmodel import ProjectionRunner
from cairn.store.port import AppendResult, EventStore, StreamWrite, WrongExpectedVersion

S = TypeVar("S")

Decider = Callable[[S], Sequence[StreamWrite]]
"""Decides a command from the projected state: the writes to append (none: a no-op).

It must be a pure function of the state (it may run several times) and raise a
domain error when the command is refused."""

#: Decisions tried before a command gives up with :class:`CommandConflict`.
MAX_ATTEMPTS = 5

log = get_logger(__name__)


class CommandConflict(CairnError):
    """Concurrent writers kept changing the streams a command decides on."""

    def __init__(self, attempts: int, last: WrongExpectedVersion) -> None:
        super().__init__(f"gave up after {attempts} conflicting attempts: {last}")
        self.attempts = attempts
        self.last = last


class CommandExecutor(Generic[S]):
    """Runs deciders against one read model and appends their writes to the store.

    ``read_timeout`` bounds each wait for the read model (after a conflict, and
    for read-your-writes); :class:`~cairn.readmodel.ReadModelLagging` escapes
    when it is exceeded.
    """

    def __init__(
        self,
        store: EventStore,
        runner: ProjectionRunner[S],
        *,
        max_attempts: int = MAX_ATTEMPTS,
        read_timeout: float = 5.0,
    ) -> None:
        if max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")
        self.store = store
        self.runner = runner
        self.max_attempts = max_attempts
        self.read_timeout = read_timeout

    @property
    def state(self) -> S:
        return self.runner.state

    async def execute(self, decide: Decider[S]) -> AppendResult | None:
        """Decide, append, and wait until the read model includes the append.

        Returns where the append landed, or ``None`` when the decider had nothing
        to write. Raises what the decider raises, :class:`CommandConflict` after
        ``max_attempts`` conflicts, and what the store raises otherwise.
        """
        attempt = 0
        while True:
            attempt += 1
            writes = decide(self.runner.state)
            if not writes:
                return None
            try:
                result = await self.store.append(*writes)
            except WrongExpectedVersion as conflict:
                if attempt >= self.max_attempts:
                    raise CommandConflict(attempt, conflict) from conflict
                log.debug("command conflict; deciding again", attempt=attempt, error=str(conflict))
                await self.runner.wait_for(await self.store.head(), self.read_timeout)
                continue
            await self.runner.wait_for(result.position, self.read_timeout)
            return result
