"""Authentication: ``POST /v3/auth/tokens`` bodies in, a new token out.

Methods: ``password`` (user id, or name and domain), ``token`` (re-scope a
valid token; the new one keeps its expiry and audit chain) and
``application_credential``. Scope: a project or domain (by id, or name and
domain), the system (``{"all": true}``), ``"unscoped"``, or none given, which
means the user's default project when the user has a role there.

Every refusal is the same 401 to the client and an ``AuthenticationFailed``
audit event with the reason; an unknown user costs as much as a wrong password.
"""

from __future__ import annotations

import time

import msgspec

from cairn.events import Metadata
from cairn.events import identity as ev
from cairn.identity import trusts
from cairn.identity.errors import Invalid, NotFound, Unauthorized
from cairn.identity.service import Authenticated, Identity
from cairn.projections.identity import AppCredential, IdentityState, User


class DomainRef(msgspec.Struct):
    id: str | None = None
    name: str | None = None


class UserRef(msgspec.Struct):
    id: str | None = None
    name: str | None = None
    domain: DomainRef | None = None
    password: str | None = None


class PasswordMethod(msgspec.Struct):
    user: UserRef


class TokenMethod(msgspec.Struct):
    id: str


class AppCredMethod(msgspec.Struct):
    secret: str
    id: str | None = None
    name: str | None = None
    user: UserRef | None = None


class IdentityBody(msgspec.Struct):
    methods: list[str]
    password: PasswordMethod | None = None
    token: TokenMethod | None = None
    application_credential: AppCredMethod | None = None


class ProjectRef(msgspec.Struct):
    id: str | None = None
    name: str | None = None
    domain: DomainRef | None = None


class TrustRef(msgspec.Struct):
    id: str


class ScopeBody(msgspec.Struct):
    project: ProjectRef | None = None
    domain: DomainRef | None = None
    system: dict[str, bool] | None = None
    trust: TrustRef | None = msgspec.field(name="OS-TRUST:trust", default=None)


class AuthBody(msgspec.Struct):
    identity: IdentityBody
    scope: ScopeBody | str | None = None


class AuthRequest(msgspec.Struct):
    auth: AuthBody


METHODS = ("password", "token", "application_credential")
GENERIC = "The request you have made requires authentication."


def find_domain(state: IdentityState, ref: DomainRef | None) -> str:
    """A domain's id from ``{"id": ...}`` or ``{"name": ...}``."""
    if ref is None or (ref.id is None and ref.name is None):
        raise Invalid("A domain id or name is required.")
    if ref.id is not None:
        if ref.id not in state.domains:
            raise NotFound("domain", ref.id)
        return ref.id
    for domain in state.domains.values():
        if domain.name == ref.name:
            return domain.id
    raise NotFound("domain", str(ref.name))


def find_user(state: IdentityState, ref: UserRef) -> User | None:
    if ref.id is not None:
        return state.users.get(ref.id)
    if ref.name is None:
        raise Invalid("A user id or name is required.")
    try:
        domain_id = find_domain(state, ref.domain)
    except NotFound:
        return None
    for user in state.users.values():
        if user.name == ref.name and user.domain_id == domain_id:
            return user
    return None


class Authenticator:
    def __init__(self, identity: Identity) -> None:
        self.identity = identity

    async def _refuse(
        self, method: str, reason: str, user: User | None, ref: UserRef | None, remote: str | None
    ) -> Unauthorized:
        """The audit record of a failed login (cheap: :mod:`cairn.identity.failures`)."""
        user_id = user.id if user else (ref.id if ref else None)
        user_name = ref.name if ref and user is None else None
        identity = self.identity
        counts = user is not None and identity.lockout_attempts > 0 and reason != "account locked"
        attempts = 1
        if not counts:
            attempts = identity.failures.attempts_to_write(remote, user_id or user_name)
            if not attempts:
                return Unauthorized(GENERIC)
        event = ev.AuthenticationFailed(
            method=method,
            reason=reason,
            at=time.time(),
            user_id=user_id,
            user_name=user_name,
            remote_addr=remote,
            attempts=attempts,
        )
        position = await identity.record(event, Metadata(user_id=event.user_id))
        if counts:
            # The failure counts before the next attempt is judged (lockout).
            await identity.runner.wait_for(position)
        return Unauthorized(GENERIC)

    async def authenticate(self, body: AuthBody, remote: str | None = None) -> Authenticated:
        methods = body.identity.methods
        if not methods or any(m not in METHODS for m in methods) or len(set(methods)) != 1:
            raise Unauthorized(f"Unsupported authentication method: {', '.join(methods)}.")
        method = methods[0]
        expires_at: float | None = None
        chain: str | None = None
        issued_methods = [method]
        app_cred: AppCredential | None = None
        if method == "password":
            if body.identity.password is None:
                raise Invalid("The password method needs a 'password' object.")
            user = await self._password(body.identity.password.user, remote)
        elif method == "token":
            if body.identity.token is None:
                raise Invalid("The token method needs a 'token' object.")
            previous = self.identity.validate(body.identity.token.id)
            if previous.payload.app_cred_id is not None:
                raise Unauthorized(
                    "A token made from an application credential cannot be re-scoped."
                )
            user, expires_at = previous.user, previous.payload.expires_at
            chain = previous.payload.audit_chain_id or previous.payload.audit_id
            # A re-scoped token names how the first was had, and "token" (Keystone).
            issued_methods = list(dict.fromkeys([*previous.payload.methods, "token"]))
        else:
            if body.identity.application_credential is None:
                raise Invalid("The method needs an 'application_credential' object.")
            if body.scope is not None:
                raise Unauthorized("An application credential token is scoped by the credential.")
            app_cred, user = await self._app_cred(body.identity.application_credential, remote)
            expires_at = app_cred.expires_at
        if isinstance(body.scope, ScopeBody) and body.scope.trust is not None:
            return await self._trust_token(body.scope, user, issued_methods, expires_at, chain)
        scope_type, scope_id = self._scope(body.scope, user, app_cred)
        token, _ = self.identity.tokens.issue(
            user.id, issued_methods, scope_type, scope_id, expires_at=expires_at,
            audit_chain_id=chain, app_cred_id=app_cred.id if app_cred else None,
        )  # fmt: skip
        return self.identity.validate(token)

    async def _trust_token(
        self, scope: ScopeBody, trustee: User, methods: list[str], expires_at: float | None,
        chain: str | None,
    ) -> Authenticated:  # fmt: skip
        """A token of the trust's project for its trustee: in the trustor's name with
        impersonation; no later than the trust's expiry; one use spent."""
        assert scope.trust is not None
        if scope.project or scope.domain or scope.system:
            raise Invalid("A trust scope is given alone.")
        trust_id, now = scope.trust.id, time.time()
        trust = trusts.usable(self.identity.state, trust_id, trustee.id, now)
        if not self.identity.trust_roles(trust_id, now):
            raise Unauthorized("The trustor no longer holds the trust's roles.")
        await self.identity.run(
            lambda s: trusts.use_trust(s, Metadata(user_id=trustee.id), trust_id, trustee.id, now)
        )
        limits = [t for t in (expires_at, trust.expires_at) if t is not None]
        user_id = trust.trustor_user_id if trust.impersonation else trustee.id
        token, _ = self.identity.tokens.issue(
            user_id, methods, "project", trust.project_id, expires_at=min(limits, default=None),
            audit_chain_id=chain, trust_id=trust_id,
        )  # fmt: skip
        return self.identity.validate(token)

    async def _password(self, ref: UserRef, remote: str | None) -> User:
        state = self.identity.state
        user = find_user(state, ref)
        password = ref.password or ""
        if user is None:
            await self.identity.hasher.verify(password, None)
            raise await self._refuse("password", "unknown user", None, ref, remote)
        if self.identity.locked_out(user):
            raise await self._refuse("password", "account locked", user, ref, remote)
        if not await self.identity.hasher.verify(password, user.password_hash):
            raise await self._refuse("password", "wrong password", user, ref, remote)
        if not user.enabled:
            raise await self._refuse("password", "user disabled", user, ref, remote)
        if user.failed_logins:
            await self.identity.record(ev.FailedLoginsCleared(user_id=user.id), Metadata())
        return user

    async def _app_cred(self, ref: AppCredMethod, remote: str | None) -> tuple[AppCredential, User]:
        state = self.identity.state
        cred: AppCredential | None = None
        if ref.id is not None:
            cred = state.app_credentials.get(ref.id)
        elif ref.name is not None and ref.user is not None:
            owner = find_user(state, ref.user)
            owned = [c for c in state.app_credentials.values() if owner and c.user_id == owner.id]
            cred = next((c for c in owned if c.name == ref.name), None)
        else:
            raise Invalid("An application credential needs an id, or a name and a user.")
        if cred is None:
            await self.identity.hasher.verify(ref.secret, None)
            raise await self._refuse(
                "application_credential", "unknown credential", None, None, remote
            )
        user = state.users.get(cred.user_id)
        if not await self.identity.hasher.verify(ref.secret, cred.secret_hash):
            raise await self._refuse("application_credential", "wrong secret", user, None, remote)
        if user is None or not user.enabled:
            raise await self._refuse("application_credential", "user disabled", user, None, remote)
        if cred.expires_at is not None and cred.expires_at <= time.time():
            raise await self._refuse("application_credential", "expired", user, None, remote)
        return cred, user

    def _scope(
        self, scope: ScopeBody | str | None, user: User, cred: AppCredential | None
    ) -> tuple[str, str]:
        state = self.identity.state
        if cred is not None:
            return self._require_roles(user, "project", cred.project_id)
        if scope == "unscoped":
            return "", ""
        if isinstance(scope, str):
            raise Invalid(f"Unknown scope {scope!r}.")
        if scope is None:
            default = user.default_project_id
            if (
                default
                and default in state.projects
                and self.identity.scope_roles_for(user.id, "project", default)
            ):
                return "project", default
            return "", ""
        given = [x for x in (scope.project, scope.domain, scope.system) if x is not None]
        if len(given) != 1:
            raise Invalid("Give exactly one of project, domain or system as the scope.")
        if scope.project is not None:
            ref = scope.project
            if ref.id is not None:
                project_id = ref.id
            elif ref.name is not None:
                domain_id = find_domain(state, ref.domain)
                found = [
                    p.id
                    for p in state.projects.values()
                    if p.name == ref.name and p.domain_id == domain_id
                ]
                if not found:
                    raise Unauthorized(f"Could not find project: {ref.name}.")
                project_id = found[0]
            else:
                raise Invalid("A project id or name is required.")
            return self._require_roles(user, "project", project_id)
        if scope.domain is not None:
            try:
                return self._require_roles(user, "domain", find_domain(state, scope.domain))
            except NotFound as exc:
                raise Unauthorized(str(exc)) from None
        if scope.system != {"all": True}:
            raise Invalid('The system scope is {"all": true}.')
        return self._require_roles(user, "system", "all")

    def _require_roles(self, user: User, kind: str, ident: str) -> tuple[str, str]:
        if not self.identity.scope_roles_for(user.id, kind, ident):
            raise Unauthorized(f"User {user.id} has no access to {kind} {ident}.")
        return kind, ident
