"""Block storage's domain errors; the API turns each into Cinder's fault.

::

    VolumeError
    ├── NotFound          no such volume, snapshot or type (or not the caller's to see)
    ├── Invalid           the request cannot be done as asked (bad value, wrong status)
    ├── Forbidden         the caller's role does not allow it
    ├── Conflict          the resource is in use (a type with volumes)
    └── QuotaExceeded     the project's limits would be passed
"""

from __future__ import annotations

from cairn.errors import CairnError


class VolumeError(CairnError):
    status = 400


class NotFound(VolumeError):
    status = 404


class Invalid(VolumeError):
    status = 400


class Forbidden(VolumeError):
    status = 403


class Conflict(VolumeError):
    status = 409


class QuotaExceeded(VolumeError):
    status = 413
