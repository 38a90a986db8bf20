"""The identity service's core: its read model, deciders, tokens and policy, together.

:class:`Identity` is what the API (and every other service's auth middleware)
holds: it authenticates, issues and validates tokens, answers policy
questions, and runs identity commands through the executor.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from cairn.app import CommandExecutor, Decider
from cairn.events import DomainEvent, Metadata, registry
from cairn.identity import roles
from cairn.identity.errors import Unauthorized
from cairn.identity.failures import FailureAudit
from cairn.identity.passwords import PasswordHasher
from cairn.identity.policy import Credentials, PolicyEngine, Target
from cairn.identity.tokens import TokenPayload, TokenProvider
from cairn.projections.identity import IdentityState, User
from cairn.readmodel import ProjectionRunner
from cairn.sealing import Sealer
from cairn.store.port import AppendResult, EventStore, StreamWrite

AUDIT_STREAM = "audit-identity"
MEMO_SIZE = 4096
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Authenticated:
    """A valid token and what it grants, as of the moment it was checked."""

    token: str
    payload: TokenPayload
    user: User
    role_ids: frozenset[str]
    credentials: Credentials

    @property
    def user_id(self) -> str:
        return self.payload.user_id

    @property
    def project_id(self) -> str | None:
        return self.payload.scope_id if self.payload.scope_type == "project" else None

    def metadata(self, request_id: str | None = None) -> Metadata:
        return Metadata(request_id=request_id, user_id=self.user_id, project_id=self.project_id)


class Identity:
    def __init__(
        self,
        store: EventStore,
        runner: ProjectionRunner[IdentityState],
        tokens: TokenProvider,
        hasher: PasswordHasher,
        policy: PolicyEngine,
        *,
        lockout_attempts: int = 0,
        lockout_seconds: float = 1800.0,
        sealer: Sealer,
    ) -> None:
        self.store = store
        self.runner = runner
        self.executor = CommandExecutor(store, runner)
        self.tokens = tokens
        self.hasher = hasher
        self.policy = policy
        self.lockout_attempts = lockout_attempts
        self.lockout_seconds = lockout_seconds
        self.sealer = sealer
        #: which failed logins are written to the audit log (cheaply)
        self.failures = FailureAudit()
        self._memo: dict[Hashable, Any] = {}
        self._memo_position = -1

    def memo(self, key: Hashable, make: Callable[[], T]) -> T:
        """``make()``, remembered until the identity state changes (an identity
        event is folded; other services' events, and failed-login counters,
        leave the memo alone: see ``IdentityState.views_position``).

        For views derived from the state alone (the catalog of a project, a
        rendered list); callers must not change what they get."""
        changed = self.state.views_position
        if self._memo_position != changed or len(self._memo) >= MEMO_SIZE:
            self._memo.clear()
            self._memo_position = changed
        try:
            found: T = self._memo[key]
        except KeyError:
            found = self._memo[key] = make()
        return found

    @property
    def state(self) -> IdentityState:
        return self.runner.state

    async def run(self, decide: Decider[IdentityState]) -> AppendResult | None:
        return await self.executor.execute(decide)

    async def record(self, event: DomainEvent, meta: Metadata, stream: str = AUDIT_STREAM) -> int:
        """Append one event no decision depends on (audit, revocation); its position."""
        result = await self.store.append(StreamWrite(stream, [registry.new(event, meta)]))
        return result.position

    # -- tokens ------------------------------------------------------------------------

    def validate(self, token: str, *, allow_expired: bool = False) -> Authenticated:
        """What ``token`` grants now; :class:`Unauthorized` if it grants nothing.

        Memory only: decryption, then revocations, the user, and the scope, all
        from the read model. The outcome is remembered until the read model
        moves (a revocation is an event, so it ends the memo); only the expiry
        is checked again on each use."""
        found = self.memo(("token", token), lambda: self._validate(token))
        if not allow_expired and found.payload.expires_at <= time.time():
            raise Unauthorized("The token has expired.")
        return found

    def _validate(self, token: str) -> Authenticated:
        payload = self.tokens.decrypt(token, allow_expired=True)
        state = self.state
        if any(audit_id in state.revoked_audit_ids for audit_id in payload.audit_ids):
            raise Unauthorized("The token has been revoked.")
        if payload.issued_at <= state.revoked_before.get(payload.user_id, 0.0):
            raise Unauthorized("The token has been revoked.")
        user = state.users.get(payload.user_id)
        if user is None or not user.enabled:
            raise Unauthorized("The token's user is no longer valid.")
        role_ids = self.scope_roles(payload)
        if payload.scope_type and not role_ids:
            raise Unauthorized("The token's scope is no longer valid.")
        return Authenticated(
            token, payload, user, role_ids, self.credentials(payload, user, role_ids)
        )

    def scope_roles(self, payload: TokenPayload) -> frozenset[str]:
        """The role ids a token's scope grants its user now (none if the scope is gone)."""
        if payload.trust_id is not None:
            return self.trust_roles(payload.trust_id)
        return self.scope_roles_for(
            payload.user_id, payload.scope_type, payload.scope_id, payload.app_cred_id
        )

    def trust_roles(self, trust_id: str, now: float | None = None) -> frozenset[str]:
        """What a trust delegates now: its roles (and those they imply) that the
        trustor still holds on the project; none once it is gone or expired."""
        trust = self.state.trusts.get(trust_id)
        if trust is None:
            return frozenset()
        if trust.expires_at is not None and trust.expires_at <= (now or time.time()):
            return frozenset()
        trustor = self.state.users.get(trust.trustor_user_id)
        if trustor is None or not trustor.enabled:
            return frozenset()
        held = self.scope_roles_for(trust.trustor_user_id, "project", trust.project_id)
        return frozenset(held & roles.expand_implied(self.state, trust.role_ids))

    def scope_roles_for(
        self, user_id: str, kind: str, ident: str, app_cred_id: str | None = None
    ) -> frozenset[str]:
        """The role ids ``user_id`` holds on an enabled scope, implied roles included."""
        state = self.state
        if kind == "project":
            project = state.projects.get(ident)
            domain = state.domains.get(project.domain_id) if project else None
            if project is None or not project.enabled or domain is None or not domain.enabled:
                return frozenset()
        elif kind == "domain":
            domain = state.domains.get(ident)
            if domain is None or not domain.enabled:
                return frozenset()
        elif kind != "system":
            return frozenset()
        found = roles.effective_role_ids(state, user_id, kind, ident)
        if app_cred_id is not None:
            cred = state.app_credentials.get(app_cred_id)
            if cred is None:
                return frozenset()
            found &= roles.expand_implied(state, cred.role_ids)
        return frozenset(found)

    def credentials(
        self, payload: TokenPayload, user: User, role_ids: frozenset[str]
    ) -> Credentials:
        state = self.state
        names = frozenset(state.roles[r].name.lower() for r in role_ids if r in state.roles)
        project = state.projects.get(payload.scope_id) if payload.scope_type == "project" else None
        return Credentials(
            user_id=user.id,
            user_domain_id=user.domain_id,
            roles=names,
            project_id=project.id if project else None,
            project_domain_id=project.domain_id if project else None,
            domain_id=payload.scope_id if payload.scope_type == "domain" else None,
            system_scope="all" if payload.scope_type == "system" else None,
        )

    def allowed(self, rule: str, who: Authenticated, target: Target) -> bool:
        return self.policy.check(rule, who.credentials, target)

    # -- logins ------------------------------------------------------------------------

    def locked_out(self, user: User, now: float | None = None) -> bool:
        if self.lockout_attempts <= 0 or user.failed_logins < self.lockout_attempts:
            return False
        return (time.time() if now is None else now) - user.last_failure < self.lockout_seconds
