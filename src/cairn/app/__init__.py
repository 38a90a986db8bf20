"""Command handlers: decide from projected state, append, read your own write.

Every write in Cairn follows one pattern (docs/adr/0006-command-handlers.md):

1. A *decider* is a plain function of the projected state. It checks the
   command against the state and returns the :class:`~cairn.store.port.StreamWrite`
   values to append, each at the stream version it decided on (or raises a
   domain error, which the API turns into a fault).
2. :class:`CommandExecutor` appends them atomically. When a stream moved in
   the meantime (:class:`~cairn.store.port.WrongExpectedVersion`), it waits
   for the read model to catch up with the log and asks the decider again,
   a bounded number of times.
3. After a successful append it waits for the read model to include the
   append's position, so the answer the API gives next reads its own write.
"""

from cairn.app.executor import CommandConflict, CommandExecutor, Decider

__all__ = ["CommandConflict", "CommandExecutor", "Decider"]
