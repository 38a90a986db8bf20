"""Errors of the image service; the API turns each kind into a status at its edge.

::

    ImageError
    ├── NotFound        the image (or member) does not exist, or the caller cannot see it
    ├── Invalid         the request is malformed: bad format, bad patch, bad member
    ├── Forbidden       the caller sees the image but may not do this to it
    ├── Conflict        the image's state does not allow it (not queued, protected, ...)
    └── QuotaExceeded   the project's image count or bytes would pass its limit
"""

from __future__ import annotations

from cairn.errors import CairnError


class ImageError(CairnError):
    """Base of the image service's domain errors."""


class NotFound(ImageError):
    pass


class Invalid(ImageError):
    pass


class Forbidden(ImageError):
    pass


class Conflict(ImageError):
    pass


class QuotaExceeded(ImageError):
    pass
