"""Pure folds of events into state: ``(state, event) -> state``, no I/O, no clock.

Installed as ``cairn.projections``. The same fold serves the live read model, the
state a command handler decides on, and the audit tool's replay.
"""

from cairn.projections.fold import Projection, handles

__all__ = ["Projection", "handles"]
