"""Admins' changes to backends' services: enable, disable (with a reason), freeze,
thaw (Cinder's ``os-services`` actions). Each is an event on the backend's
stream; the scheduler places no new volume on a disabled or frozen backend."""

from __future__ import annotations

from cairn.events import volume as ev
from cairn.projections.volume import Backend, VolumeState, backend_stream
from cairn.volume.errors import Invalid, NotFound
from cairn.volume.writes import Writes

BINARY = "cinder-volume"


def service_host(backend: Backend) -> str:
    """Cinder's service host: ``host@backend``, without the pool."""
    return backend.host.split("#", 1)[0]


def find(state: VolumeState, host: str) -> Backend | None:
    return next((b for b in state.backends.values() if host in (b.host, service_host(b))), None)


def set_status(
    state: VolumeState, host: str, binary: str, w: Writes, *, disabled: bool, reason: str | None
) -> Backend:
    backend = find(state, host)
    if backend is None or binary != BINARY:
        raise NotFound(f"Service {binary} on host {host} could not be found.")
    w.add(
        backend_stream(backend.host),
        ev.VolumeBackendStatusSet(host=backend.host, disabled=disabled, reason=reason),
    )
    return backend


def set_frozen(state: VolumeState, host: str, w: Writes, *, frozen: bool) -> None:
    backend = find(state, host)
    if backend is None:
        # Cinder answers an unknown host here with a 400 (InvalidInput), not a 404.
        raise Invalid(f"Invalid input received: No service found with host {host}.")
    w.add(backend_stream(backend.host), ev.VolumeBackendFreezeSet(host=backend.host, frozen=frozen))
