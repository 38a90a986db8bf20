"""OS-TRUST: a user (the trustor) delegates some of its roles on one project to
another user (the trustee), who then gets trust-scoped tokens for the project.

A trust holds only roles the trustor has on the project when it is made, and
its tokens carry only those the trustor still has (:meth:`Identity.trust_roles`);
deleting the trust, or either user, or its expiry ends them. With
``impersonation`` its tokens name the trustor as their user, else the trustee. A
trust with ``remaining_uses`` gives that many tokens: each issue appends
``TrustUsed`` at the trust stream's version, so two issues cannot both spend the
last use.
"""

from __future__ import annotations

from cairn.events import Metadata
from cairn.events import identity as ev
from cairn.identity import roles
from cairn.identity.decide import change, create, find
from cairn.identity.errors import Forbidden, Invalid, Unauthorized
from cairn.projections.identity import IdentityState, Trust
from cairn.store.port import StreamWrite


def create_trust(
    s: IdentityState, m: Metadata, d: ev.TrustCreated, now: float
) -> list[StreamWrite]:
    find(s.users, d.trustor_user_id, "user")
    find(s.users, d.trustee_user_id, "user")
    find(s.projects, d.project_id, "project")
    if not d.role_ids:
        raise Invalid("A trust delegates at least one role.")
    if d.expires_at is not None and d.expires_at <= now:
        raise Invalid("A trust's expires_at must be in the future.")
    if d.remaining_uses is not None and d.remaining_uses <= 0:
        raise Invalid("remaining_uses is a positive number, or null for no limit.")
    held = roles.effective_role_ids(s, d.trustor_user_id, "project", d.project_id)
    missing = [r for r in d.role_ids if r not in held]
    if missing:
        raise Forbidden(f"The trustor does not hold role(s) {', '.join(missing)} on the project.")
    return [create("trust", d.trust_id, m, d)]


def delete_trust(s: IdentityState, m: Metadata, trust_id: str) -> list[StreamWrite]:
    find(s.trusts, trust_id, "trust")
    return [change(s, "trust", trust_id, m, ev.TrustDeleted(trust_id=trust_id))]


def use_trust(s: IdentityState, m: Metadata, trust_id: str, trustee_id: str,
              now: float) -> list[StreamWrite]:  # fmt: skip
    """Spend one use of the trust for a token of ``trustee_id`` (nothing to write
    when it has no limit); :class:`Unauthorized` when it cannot give one."""
    trust = usable(s, trust_id, trustee_id, now)
    if trust.remaining_uses is None:
        return []
    event = ev.TrustUsed(trust_id=trust_id, remaining_uses=trust.remaining_uses - 1)
    return [change(s, "trust", trust_id, m, event)]


def usable(s: IdentityState, trust_id: str, trustee_id: str, now: float) -> Trust:
    trust = s.trusts.get(trust_id)
    if trust is None:
        raise Unauthorized(f"Could not find trust: {trust_id}.")
    if trust.trustee_user_id != trustee_id:
        raise Unauthorized("The user is not the trust's trustee.")
    if trust.expires_at is not None and trust.expires_at <= now:
        raise Unauthorized("The trust has expired.")
    if trust.remaining_uses is not None and trust.remaining_uses <= 0:
        raise Unauthorized("The trust has no uses left.")
    return trust
