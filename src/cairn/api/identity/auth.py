"""Authentication and authorization for every service: a middleware and one call.

Any service adds :func:`token_middleware` to its middlewares; it validates
``X-Auth-Token`` (from memory: see :mod:`cairn.identity.tokens`) and puts the
caller on the request (:data:`~cairn.api.identity.keys.CALLER`). A request
without a token goes on anonymously, so discovery and ``POST /v3/auth/tokens``
work; an invalid token is a 401 at once. Handlers then call::

    caller = await authorize(request, "compute:servers:create", {"project_id": p})

which answers 401 when there is no caller and 403 (recorded as a
``PolicyDenied`` audit event) when the policy engine says no.
"""

from __future__ import annotations

from typing import NoReturn

from aiohttp import web
from aiohttp.typedefs import Handler

from cairn.api.faults import HTTPFault
from cairn.api.identity.faults import unauthorized
from cairn.api.identity.keys import CALLER, IDENTITY
from cairn.api.keys import REQUEST_ID
from cairn.events import Metadata
from cairn.events import identity as ev
from cairn.identity.errors import Unauthorized
from cairn.identity.policy import Target
from cairn.identity.service import Authenticated
from cairn.logs import get_logger

TOKEN_HEADER = "X-Auth-Token"
log = get_logger(__name__)


@web.middleware
async def token_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    token = request.headers.get(TOKEN_HEADER)
    if token:
        identity = request.config_dict[IDENTITY]
        try:
            who = identity.validate(token)
        except Unauthorized as exc:
            raise unauthorized(request, str(exc)) from None
        cred_id = who.payload.app_cred_id
        if cred_id is not None:
            from cairn.api.identity.app_credentials import request_allowed

            cred = identity.state.app_credentials.get(cred_id)
            if cred is not None and not request_allowed(
                identity.state, cred, request.method, request.path
            ):
                raise unauthorized(
                    request, "The application credential's access rules do not allow this request."
                )
        request[CALLER] = who
    return await handler(request)


def caller(request: web.Request) -> Authenticated:
    """The authenticated caller; 401 when the request carries no token."""
    found: Authenticated | None = request.get(CALLER)
    if found is None:
        raise unauthorized(request, "The request you have made requires authentication.")
    return found


async def authorize(request: web.Request, rule: str, target: Target | None = None) -> Authenticated:
    """The caller, if the policy allows it ``rule`` on ``target``; else 401 or 403."""
    who = caller(request)
    identity = request.config_dict[IDENTITY]
    if identity.allowed(rule, who, target or {}):
        return who
    await deny(request, who, rule)


async def deny(
    request: web.Request, who: Authenticated, rule: str, message: str | None = None
) -> NoReturn:
    """Refuse ``who`` this request under ``rule``: a ``PolicyDenied`` audit event
    (who asked what, where), then 403 with ``message`` (each service words it
    as its OpenStack counterpart does). Every service's refusals go through
    here, so the audit trail records them all alike."""
    creds = who.credentials
    denied = ev.PolicyDenied(
        rule=rule,
        method=request.method,
        path=request.path,
        user_id=who.user_id,
        project_id=creds.project_id,
        domain_id=creds.domain_id,
        system=creds.system_scope is not None,
    )
    await request.config_dict[IDENTITY].record(denied, who.metadata(request.get(REQUEST_ID)))
    log.info("policy denied", rule=rule, user_id=who.user_id, path=request.path)
    raise HTTPFault(
        403, message or f"You are not authorized to perform the requested action: {rule}."
    )


def metadata(request: web.Request) -> Metadata:
    """Event metadata for a write made by this request's caller."""
    who = request.get(CALLER)
    rid = request.get(REQUEST_ID)
    return who.metadata(rid) if who is not None else Metadata(request_id=rid)
