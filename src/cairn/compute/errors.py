"""The compute domain's errors; the API turns each into its fault at the edge.

``ComputeError`` is the root. :class:`NotFound`, :class:`Invalid`,
:class:`Conflict` and :class:`Forbidden` are refusals of a command;
:class:`QuotaExceeded` says which resource ran out; :class:`ImageUnavailable`
comes from the image port.
"""

from __future__ import annotations

from cairn.errors import CairnError


class ComputeError(CairnError):
    """Base of compute errors."""


class NotFound(ComputeError):
    """The resource does not exist, or the caller may not see it."""


class Invalid(ComputeError):
    """The request cannot be done as asked (a bad value, a flavor too small, ...)."""


class Conflict(ComputeError):
    """The resource's state does not allow the request now (locked, building, taken)."""


class Forbidden(ComputeError):
    """The caller may see the resource but not do this to it."""


class QuotaExceeded(ComputeError):
    """The request would take a project past one of its limits."""

    def __init__(self, message: str, resources: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.resources = resources


class ImageUnavailable(ComputeError):
    """The image service could not be asked (down, timing out)."""
