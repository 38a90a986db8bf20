"""Application credentials: a user's delegation of some of its roles on one project
to an application, which authenticates with an id (or name) and a secret.

The secret is shown once, at creation; only its bcrypt hash is stored. A token
made from one carries at most the delegated roles, and stops working when the
credential is deleted or expires, or when the user loses those roles.
"""

from __future__ import annotations

from cairn.events import Metadata
from cairn.events import identity as ev
from cairn.identity import roles
from cairn.identity.decide import change, claim, create, find, release
from cairn.identity.errors import Forbidden, Invalid, NotFound
from cairn.projections.identity import IdentityState
from cairn.store.port import StreamWrite


def create_app_cred(
    s: IdentityState,
    m: Metadata,
    d: ev.ApplicationCredentialCreated,
    new_rules: list[ev.AccessRuleCreated] | None = None,
) -> list[StreamWrite]:
    find(s.users, d.user_id, "user")
    find(s.projects, d.project_id, "project")
    if not d.role_ids:
        raise Invalid("An application credential needs at least one role.")
    held = roles.effective_role_ids(s, d.user_id, "project", d.project_id)
    missing = [r for r in d.role_ids if r not in held]
    if missing:
        raise Forbidden(f"The user does not hold role(s) {', '.join(missing)} on the project.")
    for rule_id in d.access_rule_ids:
        rule = s.access_rules.get(rule_id)
        made = any(r.access_rule_id == rule_id for r in new_rules or ())
        if not made and (rule is None or rule.user_id != d.user_id):
            raise NotFound("access rule", rule_id)
    return [
        *(create("accessrule", r.access_rule_id, m, r) for r in new_rules or ()),
        claim(s, "appcred", d.user_id, d.name, d.app_cred_id, m),
        create("appcred", d.app_cred_id, m, d),
    ]


def delete_access_rule(
    s: IdentityState, m: Metadata, user_id: str, rule_id: str
) -> list[StreamWrite]:
    rule = s.access_rules.get(rule_id)
    if rule is None or rule.user_id != user_id:
        raise NotFound("access rule", rule_id)
    if any(rule_id in c.access_rule_ids for c in s.app_credentials.values()):
        raise Forbidden(f"Access rule {rule_id} is in use by an application credential.")
    event = ev.AccessRuleDeleted(access_rule_id=rule_id, user_id=user_id)
    return [change(s, "accessrule", rule_id, m, event)]


def delete_app_cred(
    s: IdentityState, m: Metadata, user_id: str, app_cred_id: str
) -> list[StreamWrite]:
    cred = find(s.app_credentials, app_cred_id, "application credential")
    if cred.user_id != user_id:
        raise NotFound("application credential", app_cred_id)
    event = ev.ApplicationCredentialDeleted(app_cred_id=app_cred_id, user_id=user_id)
    return [
        release(s, "appcred", user_id, cred.name, app_cred_id, m),
        change(s, "appcred", app_cred_id, m, event),
    ]
