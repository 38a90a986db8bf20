"""The identity projection: Keystone's state folded from identity events.

One state serves the API's reads, the identity command deciders (with the
version of every stream it folded, for their expected versions), and token
validation: revocations live here too, so checking a token reads memory only.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from cairn.events import RecordedEvent
from cairn.events import identity as ev
from cairn.projections.fold import Projection, handles


class Domain(msgspec.Struct):
    id: str
    name: str
    description: str = ""
    enabled: bool = True


class Project(msgspec.Struct):
    id: str
    domain_id: str
    name: str
    description: str = ""
    enabled: bool = True
    parent_id: str | None = None
    tags: list[str] = []
    is_domain: bool = False


class User(msgspec.Struct):
    id: str
    domain_id: str
    name: str
    enabled: bool = True
    password_hash: str | None = None
    default_project_id: str | None = None
    description: str = ""
    email: str | None = None
    #: Rejected logins since the last success, and when the last one was.
    failed_logins: int = 0
    last_failure: float = 0.0
    extra: dict[str, ev.Extra] = {}


class Group(msgspec.Struct):
    id: str
    domain_id: str
    name: str
    description: str = ""


class Role(msgspec.Struct):
    id: str
    name: str
    description: str = ""
    domain_id: str | None = None


class Grant(msgspec.Struct, frozen=True):
    actor_type: str
    actor_id: str
    scope_type: str
    scope_id: str
    role_id: str
    inherited: bool = False

    @property
    def key(self) -> str:
        return grant_key(
            self.actor_type, self.actor_id, self.scope_type, self.scope_id, self.role_id,
            self.inherited,
        )  # fmt: skip


class Region(msgspec.Struct):
    id: str
    description: str = ""
    parent_region_id: str | None = None


class Service(msgspec.Struct):
    id: str
    type: str
    name: str
    description: str = ""
    enabled: bool = True


class Endpoint(msgspec.Struct):
    id: str
    service_id: str
    interface: str
    url: str
    region_id: str | None = None
    enabled: bool = True


class AppCredential(msgspec.Struct):
    id: str
    user_id: str
    project_id: str
    name: str
    secret_hash: str
    role_ids: list[str]
    description: str = ""
    expires_at: float | None = None
    unrestricted: bool = False
    access_rule_ids: list[str] = []


class AccessRule(msgspec.Struct):
    id: str
    user_id: str
    service: str
    method: str
    path: str


class Credential(msgspec.Struct):
    id: str
    user_id: str
    type: str
    sealed_blob: str
    project_id: str | None = None


class EndpointGroup(msgspec.Struct):
    id: str
    name: str
    description: str = ""
    filters: dict[str, str] = {}

    def matches(self, endpoint: Endpoint) -> bool:
        return all(getattr(endpoint, key, None) == value for key, value in self.filters.items())


class Trust(msgspec.Struct):
    id: str
    trustor_user_id: str
    trustee_user_id: str
    project_id: str
    role_ids: list[str]
    impersonation: bool = False
    expires_at: float | None = None
    remaining_uses: int | None = None
    allow_redelegation: bool = False


class Consumer(msgspec.Struct):
    id: str
    sealed_secret: str
    description: str = ""


class PolicyBlob(msgspec.Struct):
    id: str
    type: str
    blob: str


#: Events that only move users' failed-login counters: no token's grant and no
#: rendered view depends on them, so caches keyed on ``views_position`` survive.
LOGIN_COUNTERS = frozenset({"AuthenticationFailed", "FailedLoginsCleared"})


class IdentityState(msgspec.Struct):
    domains: dict[str, Domain] = {}
    projects: dict[str, Project] = {}
    users: dict[str, User] = {}
    groups: dict[str, Group] = {}
    #: group id -> ids of its members
    members: dict[str, set[str]] = {}
    roles: dict[str, Role] = {}
    #: prior role id -> the role ids it directly implies
    implied: dict[str, set[str]] = {}
    grants: dict[str, Grant] = {}
    #: actor id (user or group) -> keys of its grants
    grants_by_actor: dict[str, set[str]] = {}
    regions: dict[str, Region] = {}
    services: dict[str, Service] = {}
    endpoints: dict[str, Endpoint] = {}
    app_credentials: dict[str, AppCredential] = {}
    credentials: dict[str, Credential] = {}
    policies: dict[str, PolicyBlob] = {}
    consumers: dict[str, Consumer] = {}
    access_rules: dict[str, AccessRule] = {}
    trusts: dict[str, Trust] = {}
    endpoint_groups: dict[str, EndpointGroup] = {}
    #: project id -> endpoint ids associated with it (OS-EP-FILTER)
    project_endpoints: dict[str, set[str]] = {}
    #: project id -> endpoint group ids associated with it
    project_endpoint_groups: dict[str, set[str]] = {}
    #: domain id -> group -> option -> value (domain-specific configuration)
    domain_configs: dict[str, dict[str, dict[str, ev.ConfigValue]]] = {}
    #: claim key (kind, scope, name) -> owner id
    names: dict[str, str] = {}
    #: stream -> its version, for every stream folded here
    versions: dict[str, int] = {}
    revoked_audit_ids: set[str] = set()
    #: user id -> tokens issued before this time (epoch seconds) are revoked
    revoked_before: dict[str, float] = {}
    #: position of the newest event folded that is not a login counter
    #: (:data:`LOGIN_COUNTERS`): what caches of tokens and views are keyed on
    views_position: int = 0


def grant_key(
    actor_type: str, actor_id: str, scope_type: str, scope_id: str, role_id: str, inherited: bool
) -> str:
    return f"{actor_type}:{actor_id}|{scope_type}:{scope_id}|{role_id}|{int(inherited)}"


def name_key(kind: str, scope: str, name: str) -> str:
    """Names are unique case-insensitively, as in Keystone's SQL backend."""
    return f"{kind}|{scope}|{name.casefold()}"


class IdentityProjection(Projection[IdentityState]):
    name = "identity"
    version = 1
    state_type: ClassVar[Any] = IdentityState

    def initial(self) -> IdentityState:
        return IdentityState()

    def apply(self, state: IdentityState, event: RecordedEvent) -> IdentityState:
        state.versions[event.stream] = event.version
        if event.type not in LOGIN_COUNTERS:
            state.views_position = event.position
        return super().apply(state, event)

    # -- domains and projects ---------------------------------------------------

    @handles("DomainCreated")
    def _domain_created(self, s: IdentityState, e: RecordedEvent, d: ev.DomainCreated) -> Any:
        s.domains[d.domain_id] = Domain(d.domain_id, d.name, d.description, d.enabled)
        return s

    @handles("DomainUpdated")
    def _domain_updated(self, s: IdentityState, e: RecordedEvent, d: ev.DomainUpdated) -> Any:
        s.domains[d.domain_id] = Domain(d.domain_id, d.name, d.description, d.enabled)
        return s

    @handles("DomainDeleted")
    def _domain_deleted(self, s: IdentityState, e: RecordedEvent, d: ev.DomainDeleted) -> Any:
        s.domains.pop(d.domain_id, None)
        s.domain_configs.pop(d.domain_id, None)
        _drop_grants(s, lambda g: g.scope_type == "domain" and g.scope_id == d.domain_id)
        return s

    @handles("ProjectCreated")
    def _project_created(self, s: IdentityState, e: RecordedEvent, d: ev.ProjectCreated) -> Any:
        s.projects[d.project_id] = Project(
            d.project_id, d.domain_id, d.name, d.description, d.enabled, d.parent_id,
            list(d.tags), d.is_domain,
        )  # fmt: skip
        return s

    @handles("ProjectUpdated")
    def _project_updated(self, s: IdentityState, e: RecordedEvent, d: ev.ProjectUpdated) -> Any:
        project = s.projects.get(d.project_id)
        if project is not None:
            project.name, project.description = d.name, d.description
            project.enabled, project.tags = d.enabled, list(d.tags)
        return s

    @handles("ProjectDeleted")
    def _project_deleted(self, s: IdentityState, e: RecordedEvent, d: ev.ProjectDeleted) -> Any:
        s.projects.pop(d.project_id, None)
        _drop_grants(s, lambda g: g.scope_type == "project" and g.scope_id == d.project_id)
        s.project_endpoints.pop(d.project_id, None)
        s.project_endpoint_groups.pop(d.project_id, None)
        return s

    # -- users and groups -------------------------------------------------------

    @handles("UserCreated")
    def _user_created(self, s: IdentityState, e: RecordedEvent, d: ev.UserCreated) -> Any:
        s.users[d.user_id] = User(
            d.user_id, d.domain_id, d.name, d.enabled, d.password_hash, d.default_project_id,
            d.description, d.email, extra=dict(d.extra),
        )  # fmt: skip
        return s

    @handles("UserUpdated")
    def _user_updated(self, s: IdentityState, e: RecordedEvent, d: ev.UserUpdated) -> Any:
        user = s.users.get(d.user_id)
        if user is not None:
            user.name, user.enabled, user.description = d.name, d.enabled, d.description
            user.default_project_id, user.email = d.default_project_id, d.email
            user.extra = dict(d.extra)
        return s

    @handles("UserPasswordChanged")
    def _password(self, s: IdentityState, e: RecordedEvent, d: ev.UserPasswordChanged) -> Any:
        user = s.users.get(d.user_id)
        if user is not None:
            user.password_hash = d.password_hash
            user.failed_logins = 0
        s.revoked_before[d.user_id] = max(d.at, s.revoked_before.get(d.user_id, 0.0))
        return s

    @handles("UserDeleted")
    def _user_deleted(self, s: IdentityState, e: RecordedEvent, d: ev.UserDeleted) -> Any:
        s.users.pop(d.user_id, None)
        for members in s.members.values():
            members.discard(d.user_id)
        _drop_grants(s, lambda g: g.actor_type == "user" and g.actor_id == d.user_id)
        for cred_id in [c.id for c in s.app_credentials.values() if c.user_id == d.user_id]:
            del s.app_credentials[cred_id]
        for cred_id in [c.id for c in s.credentials.values() if c.user_id == d.user_id]:
            del s.credentials[cred_id]
        for rule_id in [r.id for r in s.access_rules.values() if r.user_id == d.user_id]:
            del s.access_rules[rule_id]
        for trust_id in [t.id for t in s.trusts.values()
                         if d.user_id in (t.trustor_user_id, t.trustee_user_id)]:  # fmt: skip
            del s.trusts[trust_id]
        return s

    @handles("GroupCreated")
    def _group_created(self, s: IdentityState, e: RecordedEvent, d: ev.GroupCreated) -> Any:
        s.groups[d.group_id] = Group(d.group_id, d.domain_id, d.name, d.description)
        s.members.setdefault(d.group_id, set())
        return s

    @handles("GroupUpdated")
    def _group_updated(self, s: IdentityState, e: RecordedEvent, d: ev.GroupUpdated) -> Any:
        group = s.groups.get(d.group_id)
        if group is not None:
            group.name, group.description = d.name, d.description
        return s

    @handles("GroupDeleted")
    def _group_deleted(self, s: IdentityState, e: RecordedEvent, d: ev.GroupDeleted) -> Any:
        s.groups.pop(d.group_id, None)
        s.members.pop(d.group_id, None)
        _drop_grants(s, lambda g: g.actor_type == "group" and g.actor_id == d.group_id)
        return s

    @handles("UserAddedToGroup")
    def _joined(self, s: IdentityState, e: RecordedEvent, d: ev.UserAddedToGroup) -> Any:
        s.members.setdefault(d.group_id, set()).add(d.user_id)
        return s

    @handles("UserRemovedFromGroup")
    def _left(self, s: IdentityState, e: RecordedEvent, d: ev.UserRemovedFromGroup) -> Any:
        s.members.get(d.group_id, set()).discard(d.user_id)
        return s

    # -- roles and assignments --------------------------------------------------

    @handles("RoleCreated")
    def _role_created(self, s: IdentityState, e: RecordedEvent, d: ev.RoleCreated) -> Any:
        s.roles[d.role_id] = Role(d.role_id, d.name, d.description, d.domain_id)
        return s

    @handles("RoleUpdated")
    def _role_updated(self, s: IdentityState, e: RecordedEvent, d: ev.RoleUpdated) -> Any:
        role = s.roles.get(d.role_id)
        if role is not None:
            role.name, role.description = d.name, d.description
        return s

    @handles("RoleDeleted")
    def _role_deleted(self, s: IdentityState, e: RecordedEvent, d: ev.RoleDeleted) -> Any:
        s.roles.pop(d.role_id, None)
        s.implied.pop(d.role_id, None)
        for implied in s.implied.values():
            implied.discard(d.role_id)
        _drop_grants(s, lambda g: g.role_id == d.role_id)
        return s

    @handles("RoleImplied")
    def _implied(self, s: IdentityState, e: RecordedEvent, d: ev.RoleImplied) -> Any:
        s.implied.setdefault(d.prior_role_id, set()).add(d.implied_role_id)
        return s

    @handles("RoleImplicationRemoved")
    def _unimplied(self, s: IdentityState, e: RecordedEvent, d: ev.RoleImplicationRemoved) -> Any:
        s.implied.get(d.prior_role_id, set()).discard(d.implied_role_id)
        return s

    @handles("RoleAssigned")
    def _assigned(self, s: IdentityState, e: RecordedEvent, d: ev.RoleAssigned) -> Any:
        grant = Grant(d.actor_type, d.actor_id, d.scope_type, d.scope_id, d.role_id, d.inherited)
        s.grants[grant.key] = grant
        s.grants_by_actor.setdefault(d.actor_id, set()).add(grant.key)
        return s

    @handles("RoleUnassigned")
    def _unassigned(self, s: IdentityState, e: RecordedEvent, d: ev.RoleUnassigned) -> Any:
        key = grant_key(d.actor_type, d.actor_id, d.scope_type, d.scope_id, d.role_id, d.inherited)
        s.grants.pop(key, None)
        s.grants_by_actor.get(d.actor_id, set()).discard(key)
        return s

    # -- names, catalog, application credentials --------------------------------

    @handles("NameClaimed")
    def _claimed(self, s: IdentityState, e: RecordedEvent, d: ev.NameClaimed) -> Any:
        s.names[name_key(d.kind, d.scope, d.name)] = d.owner_id
        return s

    @handles("NameReleased")
    def _released(self, s: IdentityState, e: RecordedEvent, d: ev.NameReleased) -> Any:
        key = name_key(d.kind, d.scope, d.name)
        if s.names.get(key) == d.owner_id:
            del s.names[key]
        return s

    @handles("RegionCreated", "RegionUpdated")
    def _region(self, s: IdentityState, e: RecordedEvent, d: ev.RegionCreated) -> Any:
        s.regions[d.region_id] = Region(d.region_id, d.description, d.parent_region_id)
        return s

    @handles("ServiceCreated", "ServiceUpdated")
    def _service(self, s: IdentityState, e: RecordedEvent, d: ev.ServiceCreated) -> Any:
        s.services[d.service_id] = Service(d.service_id, d.type, d.name, d.description, d.enabled)
        return s

    @handles("RegionDeleted")
    def _region_deleted(self, s: IdentityState, e: RecordedEvent, d: ev.RegionDeleted) -> Any:
        s.regions.pop(d.region_id, None)
        return s

    @handles("ServiceDeleted")
    def _service_deleted(self, s: IdentityState, e: RecordedEvent, d: ev.ServiceDeleted) -> Any:
        s.services.pop(d.service_id, None)
        for endpoint_id in [x.id for x in s.endpoints.values() if x.service_id == d.service_id]:
            del s.endpoints[endpoint_id]
        return s

    @handles("EndpointCreated", "EndpointUpdated")
    def _endpoint(self, s: IdentityState, e: RecordedEvent, d: ev.EndpointCreated) -> Any:
        s.endpoints[d.endpoint_id] = Endpoint(
            d.endpoint_id, d.service_id, d.interface, d.url, d.region_id, d.enabled
        )
        return s

    @handles("EndpointDeleted")
    def _endpoint_deleted(self, s: IdentityState, e: RecordedEvent, d: ev.EndpointDeleted) -> Any:
        s.endpoints.pop(d.endpoint_id, None)
        for endpoints in s.project_endpoints.values():
            endpoints.discard(d.endpoint_id)
        return s

    @handles("ApplicationCredentialCreated")
    def _app_cred(
        self, s: IdentityState, e: RecordedEvent, d: ev.ApplicationCredentialCreated
    ) -> Any:
        s.app_credentials[d.app_cred_id] = AppCredential(
            d.app_cred_id, d.user_id, d.project_id, d.name, d.secret_hash, list(d.role_ids),
            d.description, d.expires_at, d.unrestricted, list(d.access_rule_ids),
        )  # fmt: skip
        return s

    @handles("TrustCreated")
    def _trust(self, s: IdentityState, e: RecordedEvent, d: ev.TrustCreated) -> Any:
        s.trusts[d.trust_id] = Trust(
            d.trust_id, d.trustor_user_id, d.trustee_user_id, d.project_id, list(d.role_ids),
            d.impersonation, d.expires_at, d.remaining_uses, d.allow_redelegation,
        )  # fmt: skip
        return s

    @handles("TrustUsed")
    def _trust_used(self, s: IdentityState, e: RecordedEvent, d: ev.TrustUsed) -> Any:
        trust = s.trusts.get(d.trust_id)
        if trust is not None:
            trust.remaining_uses = d.remaining_uses
        return s

    @handles("TrustDeleted")
    def _trust_deleted(self, s: IdentityState, e: RecordedEvent, d: ev.TrustDeleted) -> Any:
        s.trusts.pop(d.trust_id, None)
        return s

    @handles("AccessRuleCreated")
    def _access_rule(self, s: IdentityState, e: RecordedEvent, d: ev.AccessRuleCreated) -> Any:
        s.access_rules[d.access_rule_id] = AccessRule(
            d.access_rule_id, d.user_id, d.service, d.method, d.path
        )
        return s

    @handles("AccessRuleDeleted")
    def _access_rule_deleted(
        self, s: IdentityState, e: RecordedEvent, d: ev.AccessRuleDeleted
    ) -> Any:
        s.access_rules.pop(d.access_rule_id, None)
        return s

    @handles("ApplicationCredentialDeleted")
    def _app_cred_deleted(
        self, s: IdentityState, e: RecordedEvent, d: ev.ApplicationCredentialDeleted
    ) -> Any:
        s.app_credentials.pop(d.app_cred_id, None)
        return s

    @handles("CredentialCreated", "CredentialUpdated")
    def _credential(self, s: IdentityState, e: RecordedEvent, d: ev.CredentialCreated) -> Any:
        s.credentials[d.credential_id] = Credential(
            d.credential_id, d.user_id, d.type, d.sealed_blob, d.project_id
        )
        return s

    @handles("CredentialDeleted")
    def _credential_deleted(
        self, s: IdentityState, e: RecordedEvent, d: ev.CredentialDeleted
    ) -> Any:
        s.credentials.pop(d.credential_id, None)
        return s

    @handles("PolicyCreated", "PolicyUpdated")
    def _policy(self, s: IdentityState, e: RecordedEvent, d: ev.PolicyCreated) -> Any:
        s.policies[d.policy_id] = PolicyBlob(d.policy_id, d.type, d.blob)
        return s

    @handles("EndpointGroupCreated", "EndpointGroupUpdated")
    def _endpoint_group(
        self, s: IdentityState, e: RecordedEvent, d: ev.EndpointGroupCreated
    ) -> Any:
        s.endpoint_groups[d.endpoint_group_id] = EndpointGroup(
            d.endpoint_group_id, d.name, d.description, dict(d.filters)
        )
        return s

    @handles("EndpointGroupDeleted")
    def _endpoint_group_deleted(
        self, s: IdentityState, e: RecordedEvent, d: ev.EndpointGroupDeleted
    ) -> Any:
        s.endpoint_groups.pop(d.endpoint_group_id, None)
        for groups in s.project_endpoint_groups.values():
            groups.discard(d.endpoint_group_id)
        return s

    @handles("ProjectEndpointAdded")
    def _project_endpoint(
        self, s: IdentityState, e: RecordedEvent, d: ev.ProjectEndpointAdded
    ) -> Any:
        s.project_endpoints.setdefault(d.project_id, set()).add(d.endpoint_id)
        return s

    @handles("ProjectEndpointRemoved")
    def _project_endpoint_removed(
        self, s: IdentityState, e: RecordedEvent, d: ev.ProjectEndpointRemoved
    ) -> Any:
        s.project_endpoints.get(d.project_id, set()).discard(d.endpoint_id)
        return s

    @handles("ProjectEndpointGroupAdded")
    def _project_group(
        self, s: IdentityState, e: RecordedEvent, d: ev.ProjectEndpointGroupAdded
    ) -> Any:
        s.project_endpoint_groups.setdefault(d.project_id, set()).add(d.endpoint_group_id)
        return s

    @handles("ProjectEndpointGroupRemoved")
    def _project_group_removed(
        self, s: IdentityState, e: RecordedEvent, d: ev.ProjectEndpointGroupRemoved
    ) -> Any:
        s.project_endpoint_groups.get(d.project_id, set()).discard(d.endpoint_group_id)
        return s

    @handles("ConsumerCreated")
    def _consumer(self, s: IdentityState, e: RecordedEvent, d: ev.ConsumerCreated) -> Any:
        s.consumers[d.consumer_id] = Consumer(d.consumer_id, d.sealed_secret, d.description)
        return s

    @handles("ConsumerUpdated")
    def _consumer_updated(self, s: IdentityState, e: RecordedEvent, d: ev.ConsumerUpdated) -> Any:
        consumer = s.consumers.get(d.consumer_id)
        if consumer is not None:
            consumer.description = d.description
        return s

    @handles("ConsumerDeleted")
    def _consumer_deleted(self, s: IdentityState, e: RecordedEvent, d: ev.ConsumerDeleted) -> Any:
        s.consumers.pop(d.consumer_id, None)
        return s

    @handles("DomainConfigured")
    def _domain_config(self, s: IdentityState, e: RecordedEvent, d: ev.DomainConfigured) -> Any:
        if d.config:
            s.domain_configs[d.domain_id] = {g: dict(o) for g, o in d.config.items()}
        else:
            s.domain_configs.pop(d.domain_id, None)
        return s

    @handles("PolicyDeleted")
    def _policy_deleted(self, s: IdentityState, e: RecordedEvent, d: ev.PolicyDeleted) -> Any:
        s.policies.pop(d.policy_id, None)
        return s

    # -- tokens and logins ------------------------------------------------------

    @handles("TokenRevoked")
    def _revoked(self, s: IdentityState, e: RecordedEvent, d: ev.TokenRevoked) -> Any:
        if d.audit_id is not None:
            s.revoked_audit_ids.add(d.audit_id)
        if d.user_id is not None and d.issued_before is not None:
            s.revoked_before[d.user_id] = max(d.issued_before, s.revoked_before.get(d.user_id, 0))
        return s

    @handles("AuthenticationFailed")
    def _failed(self, s: IdentityState, e: RecordedEvent, d: ev.AuthenticationFailed) -> Any:
        user = s.users.get(d.user_id) if d.user_id else None
        if user is not None:
            user.failed_logins += d.attempts
            user.last_failure = d.at
        return s

    @handles("FailedLoginsCleared")
    def _cleared(self, s: IdentityState, e: RecordedEvent, d: ev.FailedLoginsCleared) -> Any:
        user = s.users.get(d.user_id)
        if user is not None:
            user.failed_logins = 0
        return s


def _drop_grants(s: IdentityState, match: Any) -> None:
    for key in [key for key, grant in s.grants.items() if match(grant)]:
        grant = s.grants.pop(key)
        s.grants_by_actor.get(grant.actor_id, set()).discard(key)
