"""Identity's domain errors. The API turns each into a Keystone fault at its edge.

::

    IdentityError
    ├── NotFound        a named resource does not exist (404)
    ├── Conflict        a unique name is taken, a resource is in use (409)
    ├── Invalid         a request that cannot be carried out as asked (400)
    ├── Unauthorized    authentication failed, or the token is not valid (401)
    └── Forbidden       authenticated, but not allowed (403)
"""

from __future__ import annotations

from cairn.errors import CairnError


class IdentityError(CairnError):
    """Base of identity's errors."""


class NotFound(IdentityError):
    def __init__(self, kind: str, ident: str) -> None:
        super().__init__(f"Could not find {kind}: {ident}.")
        self.kind, self.ident = kind, ident


class Conflict(IdentityError):
    pass


class Invalid(IdentityError):
    pass


class Unauthorized(IdentityError):
    def __init__(self, message: str = "The request you have made requires authentication.") -> None:
        super().__init__(message)


class Forbidden(IdentityError):
    def __init__(
        self, message: str = "You are not authorized to perform the requested action."
    ) -> None:
        super().__init__(message)
