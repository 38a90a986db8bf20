"""The compute control plane (Nova v2.1's conductor, scheduler and quota).

* :mod:`.quota` — limits (defaults, per-project sets) and usage checks.
* :mod:`.flavors`, :mod:`.servers`, :mod:`.keypairs`, :mod:`.hosts` — deciders:
  ``(state, ...) -> [StreamWrite]``, pure, run by the command executor.
* :mod:`.scheduler` — filters, weighers and the loop that claims hosts.
* :mod:`.sweeper` — the deadlines: nothing stays building or deleting forever.
* :mod:`.images` — the port to the image service (HTTP and in-memory adapters).
* :mod:`.service` — :class:`~.service.Compute`, what the API holds.

The events are in :mod:`cairn.events.compute`, the state in
:mod:`cairn.projections.compute`.
"""
