"""What every networking handler shares: the caller, the core, the request body."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller as authenticated
from cairn.api.keys import REQUEST_ID
from cairn.api.network.keys import NETWORKING
from cairn.events import Metadata
from cairn.network.access import Caller
from cairn.network.errors import Forbidden, Invalid
from cairn.network.service import Networking

WRITER_ROLES = ("admin", "member")


def networking(request: web.Request) -> Networking:
    return request.config_dict[NETWORKING]


def caller(request: web.Request, *, write: bool = False) -> Caller:
    """The authenticated caller; a write needs the member (or admin) role, and
    everything but an admin's request needs a project-scoped token."""
    who = authenticated(request)
    roles = who.credentials.roles
    admin = "admin" in roles
    if who.project_id is None and not admin:
        raise Forbidden("A project-scoped token is required for networking requests.")
    if write and not any(role in roles for role in WRITER_ROLES):
        raise Forbidden(
            "(rule:admin_or_project_member) is disallowed by policy: the reader role only reads."
        )
    return Caller(project_id=who.project_id or "", user_id=who.user_id, is_admin=admin)


def metadata(request: web.Request) -> Metadata:
    who = authenticated(request)
    return who.metadata(request.get(REQUEST_ID))


def owner(who: Caller, attrs: dict[str, Any]) -> str:
    """The project a new resource belongs to: the caller's, or (admins) the one named."""
    wanted = attrs.pop("project_id", None)
    if wanted and wanted != who.project_id and not who.is_admin:
        raise Forbidden(
            "Specifying 'project_id' or 'tenant_id' other than the authenticated "
            "project in request requires admin privileges"
        )
    project = wanted or who.project_id
    if not project:
        raise Invalid(
            "The request needs a project_id: the token is not project-scoped.", "HTTPBadRequest"
        )
    return str(project)


async def body(request: web.Request) -> Any:
    try:
        return await read_json(request)
    except HTTPFault as fault:
        raise Invalid(fault.message, "HTTPBadRequest") from None


def revision_check(request: web.Request, revision: int) -> None:
    """Honour ``If-Match: revision_number=N`` (Neutron's revision-if-match)."""
    header = request.headers.get("If-Match")
    if not header:
        return
    from cairn.network.errors import PreconditionFailed

    wanted = [part.strip() for part in header.split(",")]
    numbers = []
    for part in wanted:
        name, _, value = part.partition("=")
        if name.strip() != "revision_number" or not value.strip().isdigit():
            raise Invalid(
                f"Invalid If-Match header: {header!r}; expected 'revision_number=N'.",
                "HTTPBadRequest",
            )
        numbers.append(int(value))
    if revision not in numbers:
        raise PreconditionFailed(f"Constrained to {header}, but current revision is {revision}")
