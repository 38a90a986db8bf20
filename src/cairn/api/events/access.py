"""Who may read which events: identity's tokens and policy, applied to the log.

A caller is authenticated by its identity token, in the ``X-Auth-Token``
header or, for browsers (``EventSource`` and ``WebSocket`` cannot send
headers), in the ``auth_token`` query parameter; the access log never records
query strings, so the token does not end up in a log line.

What the caller sees is decided once, when it subscribes or asks for a
history, by two policy rules (operators may override them in the policy
file, like any other rule):

* ``events:read_all``: every project's events, and events of no project
  (default: admins);
* ``events:read``: the events of one project (default: admins, and readers of
  that project, which members and project admins are, by role implication).

An event belongs to the projects :func:`cairn.stream.event_projects` names.
A refusal is a 403 and a ``PolicyDenied`` audit event, as for every service.
"""

from __future__ import annotations

from aiohttp import web

from cairn.api.identity.auth import deny
from cairn.api.identity.faults import unauthorized
from cairn.api.identity.keys import CALLER, IDENTITY
from cairn.identity.errors import Unauthorized
from cairn.identity.policy import Check, Target, parse_rule
from cairn.identity.service import Authenticated, Identity

TOKEN_QUERY = "auth_token"

#: This service's rules and their defaults.
RULES: dict[str, str] = {
    "events:read_all": "rule:admin_required",
    "events:read": "rule:admin_required or (role:reader and project_id:%(project_id)s)",
}
_DEFAULTS: dict[str, Check] = {name: parse_rule(text) for name, text in RULES.items()}


def caller(request: web.Request) -> Authenticated:
    """The caller, from the header (validated by the token middleware) or the
    query; 401 when neither holds a valid token."""
    found: Authenticated | None = request.get(CALLER)
    if found is not None:
        return found
    token = request.query.get(TOKEN_QUERY)
    if not token:
        raise unauthorized(request, "The request you have made requires authentication.")
    try:
        found = request.config_dict[IDENTITY].validate(token)
    except Unauthorized as exc:
        raise unauthorized(request, str(exc)) from None
    request[CALLER] = found
    return found


def allowed(identity: Identity, rule: str, who: Authenticated, target: Target) -> bool:
    """``rule`` as the policy file sets it, else as :data:`RULES` does."""
    policy = identity.policy
    if rule in policy.rules:
        return identity.allowed(rule, who, target)
    return _DEFAULTS[rule](who.credentials, target, policy)


async def visible_projects(
    request: web.Request, who: Authenticated, wanted: str | None
) -> frozenset[str] | None:
    """The projects whose events ``who`` may read, narrowed to ``wanted`` if
    given; ``None`` means every event. Refuses (403) a project not allowed."""
    identity: Identity = request.config_dict[IDENTITY]
    if allowed(identity, "events:read_all", who, {"project_id": wanted}):
        return None if wanted is None else frozenset({wanted})
    project = wanted or who.project_id
    if project is not None and allowed(identity, "events:read", who, {"project_id": project}):
        return frozenset({project})
    await deny(request, who, "events:read" if project else "events:read_all")
