"""Authorizing compute requests with compute's policy defaults (see
:mod:`cairn.compute.policy`); a refusal is audited like identity's."""

from __future__ import annotations

from aiohttp import web

from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.api.identity.auth import deny
from cairn.api.identity.keys import IDENTITY
from cairn.api.keys import REQUEST_ID
from cairn.compute import policy
from cairn.events import Metadata
from cairn.identity.policy import Target
from cairn.identity.service import Authenticated
from cairn.logs import get_logger

log = get_logger(__name__)


def is_admin(who: Authenticated) -> bool:
    return "admin" in who.credentials.roles


def allowed(
    request: web.Request, who: Authenticated, rule: str, target: Target | None = None
) -> bool:
    engine = request.config_dict[IDENTITY].policy
    return policy.allowed(engine, rule, who.credentials, target or {})


async def authorize(request: web.Request, rule: str, target: Target | None = None) -> Authenticated:
    """The caller, if compute's policy allows ``rule`` on ``target``; else 401 or 403."""
    who = caller(request)
    if allowed(request, who, rule, target):
        return who
    await deny(request, who, rule, f"Policy doesn't allow {rule} to be performed.")


def metadata(request: web.Request, who: Authenticated) -> Metadata:
    return who.metadata(request.get(REQUEST_ID))


def project_of(who: Authenticated) -> str:
    """The caller's project; compute needs a project-scoped token."""
    if who.project_id is None:
        raise HTTPFault(403, "A project-scoped token is required for this compute request.")
    return who.project_id
