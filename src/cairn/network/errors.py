"""The networking domain's errors; the API turns each into a ``NeutronError`` fault.

``NetworkError`` is the root. Each error carries ``type``, the name Neutron
gives the same refusal (``NetworkNotFound``, ``IpAddressGenerationFailure``,
``OverQuota``, ...), which clients and Tempest read from the fault body, and
the HTTP status Neutron answers it with.
"""

from __future__ import annotations

from cairn.errors import CairnError


class NetworkError(CairnError):
    """Base of networking errors."""

    status = 400
    type = "BadRequest"

    def __init__(self, message: str, type: str | None = None) -> None:
        super().__init__(message)
        if type is not None:
            self.type = type


class NotFound(NetworkError):
    """The resource does not exist, or the caller may not see it."""

    status = 404
    type = "NotFound"


class Invalid(NetworkError):
    """The request is malformed or asks for something impossible."""

    status = 400
    type = "InvalidInput"


class Conflict(NetworkError):
    """The resource's state does not allow the request (in use, taken, exhausted)."""

    status = 409
    type = "Conflict"


class Forbidden(NetworkError):
    """The caller may not do this (to a resource it may see)."""

    status = 403
    type = "PolicyNotAuthorized"


class QuotaExceeded(NetworkError):
    """The request would take the project past a limit."""

    status = 409
    type = "OverQuota"


class PreconditionFailed(NetworkError):
    """``If-Match`` named another revision than the resource's."""

    status = 412
    type = "RevisionNumberConstraintFailed"


class NotImplementedYet(NetworkError):
    """A request for a feature Cairn's networking does not have: refused, never ignored."""

    status = 400
    type = "NotSupported"
