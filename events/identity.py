"""Identity events (Keystone v3): domains, projects, users, groups, roles,
assignments, the service catalog, tokens revoked, and the audit of refusals.

Streams: ``domain-<id>``, ``project-<id>``, ``user-<id>``, ``group-<id>``,
``role-<id>``, ``grant-<digest>`` (one role assignment), ``region-<id>``,
``service-<id>``, ``endpoint-<id>``, ``appcred-<id>``, ``name-<kind>.<scope>.<digest>``
(a unique name's claim), ``revocation-<user id>`` and ``audit-identity``.

No event ever holds a password, a token or a secret: users carry a slow salted
hash (bcrypt) of their password, application credentials a hash of their
secret, and revocations the token's audit id, which cannot be used to
authenticate.
"""

from __future__ import annotations

from cairn.events.registry import DomainEvent, registry

#: The JSON scalars an extra attribute of a user may hold.
Extra = str | int | float | bool | None
#: The value of one option of a domain's configuration.
ConfigValue = str | int | float | bool | None

# -- domains, projects -----------------------------------------------------------


@registry.event
class DomainCreated(DomainEvent, frozen=True):
    domain_id: str
    name: str
    description: str = ""
    enabled: bool = True


@registry.event
class DomainUpdated(DomainEvent, frozen=True):
    """The domain's attributes after the change (all of them)."""

    domain_id: str
    name: str
    description: str
    enabled: bool


@registry.event
class DomainDeleted(DomainEvent, frozen=True):
    domain_id: str


@registry.event
class ProjectCreated(DomainEvent, frozen=True):
    project_id: str
    domain_id: str
    name: str
    description: str = ""
    enabled: bool = True
    parent_id: str | None = None
    tags: list[str] = []
    #: A project acting as a domain: a domain of the same id is created with it.
    is_domain: bool = False


@registry.event
class ProjectUpdated(DomainEvent, frozen=True):
    """The project's attributes after the change (all of them)."""

    project_id: str
    name: str
    description: str
    enabled: bool
    tags: list[str] = []


@registry.event
class ProjectDeleted(DomainEvent, frozen=True):
    project_id: str


# -- users and groups ------------------------------------------------------------


@registry.event
class UserCreated(DomainEvent, frozen=True):
    user_id: str
    domain_id: str
    name: str
    enabled: bool = True
    #: bcrypt hash of the password, ``None`` for a user who cannot log in with one.
    password_hash: str | None = None
    default_project_id: str | None = None
    description: str = ""
    email: str | None = None
    #: Attributes beyond Keystone's own, kept and returned as given (``project_id``...).
    extra: dict[str, Extra] = {}


@registry.event
class UserUpdated(DomainEvent, frozen=True):
    """The user's attributes after the change (all of them but the password)."""

    user_id: str
    name: str
    enabled: bool
    default_project_id: str | None = None
    description: str = ""
    email: str | None = None
    extra: dict[str, Extra] = {}


@registry.event
class UserPasswordChanged(DomainEvent, frozen=True):
    user_id: str
    password_hash: str
    #: When the change took effect (seconds since the epoch); the user's older
    #: tokens are revoked by it.
    at: float


@registry.event
class UserDeleted(DomainEvent, frozen=True):
    user_id: str


@registry.event
class GroupCreated(DomainEvent, frozen=True):
    group_id: str
    domain_id: str
    name: str
    description: str = ""


@registry.event
class GroupUpdated(DomainEvent, frozen=True):
    group_id: str
    name: str
    description: str


@registry.event
class GroupDeleted(DomainEvent, frozen=True):
    group_id: str


@registry.event
class UserAddedToGroup(DomainEvent, frozen=True):
    group_id: str
    user_id: str


@registry.event
class UserRemovedFromGroup(DomainEvent, frozen=True):
    group_id: str
    user_id: str


# -- roles and assignments -------------------------------------------------------


@registry.event
class RoleCreated(DomainEvent, frozen=True):
    role_id: str
    name: str
    description: str = ""
    #: ``None`` for a global role; a domain-specific role names its domain.
    domain_id: str | None = None


@registry.event
class RoleUpdated(DomainEvent, frozen=True):
    role_id: str
    name: str
    description: str


@registry.event
class RoleDeleted(DomainEvent, frozen=True):
    role_id: str


@registry.event
class RoleImplied(DomainEvent, frozen=True):
    """Holding ``prior_role_id`` also grants ``implied_role_id``."""

    prior_role_id: str
    implied_role_id: str


@registry.event
class RoleImplicationRemoved(DomainEvent, frozen=True):
    prior_role_id: str
    implied_role_id: str


@registry.event
class RoleAssigned(DomainEvent, frozen=True):
    """``actor_type`` is ``user`` or ``group``; ``scope_type`` is ``project``,
    ``domain`` or ``system`` (whose ``scope_id`` is ``all``)."""

    actor_type: str
    actor_id: str
    scope_type: str
    scope_id: str
    role_id: str
    inherited: bool = False


@registry.event
class RoleUnassigned(DomainEvent, frozen=True):
    actor_type: str
    actor_id: str
    scope_type: str
    scope_id: str
    role_id: str
    inherited: bool = False


# -- unique names ----------------------------------------------------------------


@registry.event
class NameClaimed(DomainEvent, frozen=True):
    """``name`` is taken within ``scope`` for resources of ``kind`` by ``owner_id``."""

    kind: str
    scope: str
    name: str
    owner_id: str


@registry.event
class NameReleased(DomainEvent, frozen=True):
    kind: str
    scope: str
    name: str
    owner_id: str


# -- the service catalog ---------------------------------------------------------


@registry.event
class RegionCreated(DomainEvent, frozen=True):
    region_id: str
    description: str = ""
    parent_region_id: str | None = None


@registry.event
class ServiceCreated(DomainEvent, frozen=True):
    service_id: str
    type: str
    name: str
    description: str = ""
    enabled: bool = True


@registry.event
class ServiceDeleted(DomainEvent, frozen=True):
    service_id: str


@registry.event
class EndpointCreated(DomainEvent, frozen=True):
    endpoint_id: str
    service_id: str
    interface: str
    url: str
    region_id: str | None = None
    enabled: bool = True


@registry.event
class EndpointUpdated(DomainEvent, frozen=True):
    """The endpoint's attributes after the change (all of them)."""

    endpoint_id: str
    service_id: str
    interface: str
    url: str
    region_id: str | None = None
    enabled: bool = True


@registry.event
class EndpointDeleted(DomainEvent, frozen=True):
    endpoint_id: str


# -- application credentials -----------------------------------------------------


@registry.event
class ApplicationCredentialCreated(DomainEvent, frozen=True):
    app_cred_id: str
    user_id: str
    project_id: str
    name: str
    #: bcrypt hash of the secret; the secret itself is shown once, to its creator.
    secret_hash: str
    role_ids: list[str]
    description: str = ""
    expires_at: float | None = None
    unrestricted: bool = False
    #: the access rules its tokens are limited to (none: no limit)
    access_rule_ids: list[str] = []


@registry.event
class AccessRuleCreated(DomainEvent, frozen=True):
    """A user's access rule (``accessrule-<id>``): an application credential's
    tokens may call ``method`` on ``path`` (``*`` one segment, ``**`` any) of
    the catalog service of type ``service``."""

    access_rule_id: str
    user_id: str
    service: str
    method: str
    path: str


@registry.event
class AccessRuleDeleted(DomainEvent, frozen=True):
    access_rule_id: str
    user_id: str


@registry.event
class ApplicationCredentialDeleted(DomainEvent, frozen=True):
    app_cred_id: str
    user_id: str


# -- tokens and the audit of refusals ----------------------------------------------


@registry.event
class TokenRevoked(DomainEvent, frozen=True):
    """Revokes one token (by ``audit_id``) or, with ``issued_before``, every token
    of ``user_id`` issued before that time (seconds since the epoch)."""

    audit_id: str | None = None
    user_id: str | None = None
    issued_before: float | None = None


@registry.event
class AuthenticationFailed(DomainEvent, frozen=True):
    """A rejected authentication. ``user_id`` when the user is known; never the
    password or token that was offered."""

    method: str
    reason: str
    at: float
    user_id: str | None = None
    user_name: str | None = None
    remote_addr: str | None = None
    #: how many failed attempts of this user from this address the event stands
    #: for (repeats within a short window are counted, not each written)
    attempts: int = 1


@registry.event
class FailedLoginsCleared(DomainEvent, frozen=True):
    """A successful login (or an administrator) reset the user's failure count."""

    user_id: str


@registry.event
class PolicyDenied(DomainEvent, frozen=True):
    """The policy engine refused ``rule`` to the caller."""

    rule: str
    method: str
    path: str
    user_id: str | None = None
    project_id: str | None = None
    domain_id: str | None = None
    system: bool = False


# -- credentials and policies (stored blobs) --------------------------------------------


@registry.event
class CredentialCreated(DomainEvent, frozen=True):
    """``sealed_blob`` is the blob encrypted with the credential keys (an EC2 or
    TOTP secret must not be readable in the log)."""

    credential_id: str
    user_id: str
    type: str
    sealed_blob: str
    project_id: str | None = None


@registry.event
class CredentialUpdated(DomainEvent, frozen=True):
    """The credential's attributes after the change (all of them)."""

    credential_id: str
    user_id: str
    type: str
    sealed_blob: str
    project_id: str | None = None


@registry.event
class CredentialDeleted(DomainEvent, frozen=True):
    credential_id: str


@registry.event
class PolicyCreated(DomainEvent, frozen=True):
    policy_id: str
    type: str
    blob: str


@registry.event
class PolicyUpdated(DomainEvent, frozen=True):
    policy_id: str
    type: str
    blob: str


@registry.event
class PolicyDeleted(DomainEvent, frozen=True):
    policy_id: str


@registry.event
class ServiceUpdated(DomainEvent, frozen=True):
    """The service's attributes after the change (all of them)."""

    service_id: str
    type: str
    name: str
    description: str = ""
    enabled: bool = True


@registry.event
class RegionDeleted(DomainEvent, frozen=True):
    region_id: str


@registry.event
class RegionUpdated(DomainEvent, frozen=True):
    """The region's attributes after the change (all of them)."""

    region_id: str
    description: str = ""
    parent_region_id: str | None = None


# -- OS-OAUTH1 consumers, domain configuration ------------------------------------


@registry.event
class ConsumerCreated(DomainEvent, frozen=True):
    """An OAuth 1.0a consumer (``consumer-<id>``); its secret is sealed with the
    credential keys, as credential blobs are (OAuth signs with the secret itself,
    so a hash would not do)."""

    consumer_id: str
    sealed_secret: str
    description: str = ""


@registry.event
class ConsumerUpdated(DomainEvent, frozen=True):
    consumer_id: str
    description: str = ""


@registry.event
class ConsumerDeleted(DomainEvent, frozen=True):
    consumer_id: str


@registry.event
class DomainConfigured(DomainEvent, frozen=True):
    """A domain's whole configuration after the change (``domainconfig-<domain id>``):
    group -> option -> value; empty when it was deleted."""

    domain_id: str
    config: dict[str, dict[str, ConfigValue]]


# -- OS-EP-FILTER: endpoint groups and project associations --------------------------


@registry.event
class EndpointGroupCreated(DomainEvent, frozen=True):
    """``filters`` match endpoints by ``service_id``, ``region_id`` and ``interface``."""

    endpoint_group_id: str
    name: str
    description: str = ""
    filters: dict[str, str] = {}


@registry.event
class EndpointGroupUpdated(DomainEvent, frozen=True):
    """The group's attributes after the change (all of them)."""

    endpoint_group_id: str
    name: str
    description: str = ""
    filters: dict[str, str] = {}


@registry.event
class EndpointGroupDeleted(DomainEvent, frozen=True):
    endpoint_group_id: str


@registry.event
class ProjectEndpointAdded(DomainEvent, frozen=True):
    """On ``epfilter-<project id>``: the project's catalog includes this endpoint."""

    project_id: str
    endpoint_id: str


@registry.event
class ProjectEndpointRemoved(DomainEvent, frozen=True):
    project_id: str
    endpoint_id: str


@registry.event
class ProjectEndpointGroupAdded(DomainEvent, frozen=True):
    """On ``epfilter-<project id>``: the project's catalog includes the group's endpoints."""

    project_id: str
    endpoint_group_id: str


@registry.event
class ProjectEndpointGroupRemoved(DomainEvent, frozen=True):
    project_id: str
    endpoint_group_id: str


# -- OS-TRUST ----------------------------------------------------------------------------


@registry.event
class TrustCreated(DomainEvent, frozen=True):
    """The trustor delegates ``role_ids`` on ``project_id`` to the trustee
    (``trust-<id>``); with ``impersonation`` the trust's tokens name the trustor."""

    trust_id: str
    trustor_user_id: str
    trustee_user_id: str
    project_id: str
    role_ids: list[str]
    impersonation: bool = False
    expires_at: float | None = None
    #: tokens it may still give (None: no limit)
    remaining_uses: int | None = None
    allow_redelegation: bool = False


@registry.event
class TrustUsed(DomainEvent, frozen=True):
    """A token was issued from a trust with a use limit: how many uses are left."""

    trust_id: str
    remaining_uses: int


@registry.event
class TrustDeleted(DomainEvent, frozen=True):
    trust_id: str
