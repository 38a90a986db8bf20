"""One policy engine for every service: oslo.policy's rule language, defaults in code.

Rules are written as in OpenStack's ``policy.yaml``::

    "identity:get_project": "rule:admin_required or project_id:%(target.project.id)s"

A rule is checks joined by ``and``, ``or``, ``not`` and parentheses. A check
is ``@`` (always), ``!`` (never), ``rule:NAME`` (another rule), ``role:NAME``
(the caller holds the role, implied roles included), or ``KEY:VALUE``: the
caller's credential ``KEY`` (``user_id``, ``project_id``, ``domain_id``,
``system_scope``, ...) equals ``VALUE``, a literal or ``%(path)s`` taken from
the request's target. The defaults (:data:`DEFAULT_RULES`) follow OpenStack's
secure defaults: readers read in their project, members act in their project,
admins everywhere. A YAML file overrides any rule by name.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from cairn.identity.errors import IdentityError

Target = Mapping[str, Any]
Check = Callable[["Credentials", Target, "PolicyEngine"], bool]


class PolicyError(IdentityError):
    """A rule cannot be parsed, or the policy file is not usable."""


@dataclass(frozen=True, slots=True)
class Credentials:
    """What the policy knows of the caller: its token's user, scope and roles."""

    user_id: str
    user_domain_id: str
    roles: frozenset[str]
    project_id: str | None = None
    project_domain_id: str | None = None
    domain_id: str | None = None
    system_scope: str | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    def get(self, key: str) -> Any:
        if key in self.extra:
            return self.extra[key]
        return getattr(self, key, None)


ADMIN = "role:admin"
SYSTEM_READER = "(role:reader and system_scope:all)"
DOMAIN_READER = "(role:reader and domain_id:%(target.domain_id)s)"
DEFAULT_RULES: dict[str, str] = {
    # building blocks, for every service
    "admin_required": ADMIN,
    "cloud_admin": ADMIN,
    "service_role": "role:service",
    "service_or_admin": "rule:admin_required or rule:service_role",
    "project_reader": "role:reader and project_id:%(project_id)s",
    "project_member": "role:member and project_id:%(project_id)s",
    "project_admin": "role:admin and project_id:%(project_id)s",
    "admin_or_project_reader": "rule:admin_required or rule:project_reader",
    "admin_or_project_member": "rule:admin_required or rule:project_member",
    "owner": "user_id:%(user_id)s",
    "admin_or_owner": "rule:admin_required or rule:owner",
    "default": ADMIN,
    # identity (Keystone's defaults, where a cloud admin is admin anywhere)
    "identity:get_domain": f"rule:admin_required or {SYSTEM_READER} "
    "or domain_id:%(target.domain.id)s or project_domain_id:%(target.domain.id)s",
    "identity:list_domains": "rule:admin_required",
    "identity:create_domain": "rule:admin_required",
    "identity:update_domain": "rule:admin_required",
    "identity:delete_domain": "rule:admin_required",
    "identity:get_project": f"rule:admin_required or {SYSTEM_READER} "
    "or (role:reader and domain_id:%(target.project.domain_id)s) "
    "or project_id:%(target.project.id)s",
    "identity:list_projects": f"rule:admin_required or {DOMAIN_READER}",
    "identity:list_user_projects": "rule:admin_required or user_id:%(target.user.id)s",
    "identity:create_project": "rule:admin_required",
    "identity:get_project_tags": f"rule:admin_required or {SYSTEM_READER} "
    "or (role:reader and domain_id:%(target.project.domain_id)s) "
    "or project_id:%(target.project.id)s",
    "identity:get_project_tag": f"rule:admin_required or {SYSTEM_READER} "
    "or (role:reader and domain_id:%(target.project.domain_id)s) "
    "or project_id:%(target.project.id)s",
    "identity:update_project_tags": "rule:admin_required",
    "identity:create_project_tag": "rule:admin_required",
    "identity:delete_project_tags": "rule:admin_required",
    "identity:delete_project_tag": "rule:admin_required",
    "identity:update_project": "rule:admin_required",
    "identity:delete_project": "rule:admin_required",
    "identity:get_user": "rule:admin_required or user_id:%(target.user.id)s "
    "or (role:reader and domain_id:%(target.user.domain_id)s)",
    "identity:list_users": f"rule:admin_required or {DOMAIN_READER}",
    "identity:create_user": "rule:admin_required",
    "identity:update_user": "rule:admin_required",
    "identity:delete_user": "rule:admin_required",
    "identity:change_password": "rule:admin_required or user_id:%(target.user.id)s",
    "identity:get_role": "rule:admin_required or role:reader",
    "identity:list_roles": "rule:admin_required or role:reader",
    "identity:create_role": "rule:admin_required",
    "identity:update_role": "rule:admin_required",
    "identity:delete_role": "rule:admin_required",
    "identity:list_implied_roles": "rule:admin_required or role:reader",
    "identity:list_role_inference_rules": "rule:admin_required or role:reader",
    "identity:create_implied_role": "rule:admin_required",
    "identity:get_implied_role": "rule:admin_required or role:reader",
    "identity:delete_implied_role": "rule:admin_required",
    "identity:check_grant": "rule:admin_required",
    "identity:list_grants": "rule:admin_required",
    "identity:create_grant": "rule:admin_required",
    "identity:revoke_grant": "rule:admin_required",
    "identity:list_role_assignments": f"rule:admin_required or {DOMAIN_READER}",
    "identity:get_group": "rule:admin_required "
    "or (role:reader and domain_id:%(target.group.domain_id)s)",
    "identity:list_groups": f"rule:admin_required or {DOMAIN_READER}",
    "identity:list_groups_for_user": "rule:admin_required or user_id:%(target.user.id)s",
    "identity:create_group": "rule:admin_required",
    "identity:update_group": "rule:admin_required",
    "identity:delete_group": "rule:admin_required",
    "identity:list_users_in_group": "rule:admin_required",
    "identity:add_user_to_group": "rule:admin_required",
    "identity:remove_user_from_group": "rule:admin_required",
    "identity:check_user_in_group": "rule:admin_required",
    "identity:list_regions": "@",
    "identity:get_region": "@",
    "identity:create_region": "rule:admin_required",
    "identity:update_region": "rule:admin_required",
    "identity:delete_region": "rule:admin_required",
    "identity:update_service": "rule:admin_required",
    "identity:list_services": f"rule:admin_required or {SYSTEM_READER}",
    "identity:get_service": f"rule:admin_required or {SYSTEM_READER}",
    "identity:create_service": "rule:admin_required",
    "identity:delete_service": "rule:admin_required",
    "identity:list_endpoints": f"rule:admin_required or {SYSTEM_READER}",
    "identity:get_endpoint": f"rule:admin_required or {SYSTEM_READER}",
    "identity:create_endpoint": "rule:admin_required",
    "identity:update_endpoint": "rule:admin_required",
    "identity:delete_endpoint": "rule:admin_required",
    "identity:validate_token": "rule:service_or_admin or user_id:%(target.token.user_id)s",
    "identity:check_token": "rule:service_or_admin or user_id:%(target.token.user_id)s",
    "identity:revoke_token": "rule:service_or_admin or user_id:%(target.token.user_id)s",
    "identity:get_credential": "rule:admin_required or user_id:%(target.credential.user_id)s",
    "identity:list_credentials": "rule:admin_required or user_id:%(target.credential.user_id)s",
    "identity:create_credential": "rule:admin_required or user_id:%(target.credential.user_id)s",
    "identity:update_credential": "rule:admin_required or user_id:%(target.credential.user_id)s",
    "identity:delete_credential": "rule:admin_required or user_id:%(target.credential.user_id)s",
    **{
        f"identity:ec2_{rule}": "rule:admin_required or user_id:%(target.user.id)s"
        for rule in ("create_credential", "list_credentials", "get_credential", "delete_credential")
    },
    # trusts: who may see or delete one is decided by the trust (api/identity/trusts.py)
    **{
        f"identity:{rule}": "@"
        for rule in (
            "create_trust",
            "list_trusts",
            "get_trust",
            "delete_trust",
            "list_roles_for_trust",
            "get_role_for_trust",
        )
    },
    "identity:get_policy": f"rule:admin_required or {SYSTEM_READER}",
    "identity:list_policies": f"rule:admin_required or {SYSTEM_READER}",
    "identity:create_policy": "rule:admin_required",
    "identity:update_policy": "rule:admin_required",
    "identity:delete_policy": "rule:admin_required",
    "identity:list_application_credentials": "rule:admin_required or user_id:%(target.user.id)s",
    "identity:get_application_credential": "rule:admin_required or user_id:%(target.user.id)s",
    "identity:create_application_credential": "user_id:%(target.user.id)s",
    "identity:delete_application_credential": "rule:admin_required or user_id:%(target.user.id)s",
    "identity:list_access_rules": "rule:admin_required or user_id:%(target.user.id)s",
    "identity:get_access_rule": "rule:admin_required or user_id:%(target.user.id)s",
    "identity:delete_access_rule": "rule:admin_required or user_id:%(target.user.id)s",
    # image (Glance's secure defaults; who sees which image is cairn.image.rules)
    "image:get_images": "rule:admin_required or role:reader",
    "image:get_image": "rule:admin_required or role:reader",
    "image:download_image": "rule:admin_required or role:reader",
    "image:add_image": "rule:admin_required or role:member",
    "image:modify_image": "rule:admin_or_project_member",
    "image:delete_image": "rule:admin_or_project_member",
    "image:upload_image": "rule:admin_or_project_member",
    "image:publicize_image": "rule:admin_required",
    "image:communitize_image": "rule:admin_or_project_member",
    "image:deactivate": "rule:admin_or_project_member",
    "image:reactivate": "rule:admin_or_project_member",
    "image:get_members": "rule:admin_required or role:reader",
    "image:get_member": "rule:admin_required or role:reader",
    "image:add_member": "rule:admin_or_project_member",
    "image:delete_member": "rule:admin_or_project_member",
    "image:modify_member": "rule:admin_required or role:member",
    "image:tasks_api_access": "rule:admin_required",
    # metadata definitions: read by any reader (visibility decides what), changed by admins
    **{
        f"image:{rule}": "rule:admin_required or role:reader"
        for rule in (
            "get_metadef_namespaces",
            "get_metadef_namespace",
            "list_metadef_resource_types",
            "get_metadef_resource_type",
            "get_metadef_objects",
            "get_metadef_object",
            "get_metadef_properties",
            "get_metadef_property",
            "get_metadef_tags",
            "get_metadef_tag",
        )
    },
    **{
        f"image:{rule}": "rule:admin_required"
        for rule in (
            "add_metadef_namespace",
            "modify_metadef_namespace",
            "delete_metadef_namespace",
            "add_metadef_resource_type_association",
            "remove_metadef_resource_type_association",
            "add_metadef_object",
            "modify_metadef_object",
            "delete_metadef_object",
            "add_metadef_property",
            "modify_metadef_property",
            "remove_metadef_property",
            "add_metadef_tag",
            "add_metadef_tags",
            "modify_metadef_tag",
            "delete_metadef_tag",
            "delete_metadef_tags",
        )
    },
}

_SUBST = re.compile(r"^%\((?P<path>[^)]+)\)s$")


def _always(creds: Credentials, target: Target, engine: PolicyEngine) -> bool:
    return True


def _never(creds: Credentials, target: Target, engine: PolicyEngine) -> bool:
    return False


def _check(text: str) -> Check:
    if text == "@":
        return _always
    if text == "!":
        return _never
    kind, sep, value = text.partition(":")
    if not sep or not kind:
        raise PolicyError(f"{text!r} is not a check (expected KIND:VALUE, '@' or '!')")
    if kind == "rule":
        return lambda creds, target, engine: engine.check(value, creds, target)
    if kind == "role":
        wanted = value.lower()
        return lambda creds, target, engine: wanted in creds.roles
    match = _SUBST.match(value)
    if match is not None:
        path = match.group("path")

        def compare(creds: Credentials, target: Target, engine: PolicyEngine) -> bool:
            have, want = creds.get(kind), target.get(path)
            return have is not None and want is not None and str(have) == str(want)

        return compare
    literal = value.strip("'\"")
    return lambda creds, target, engine: str(creds.get(kind)) == literal


def _tokens(text: str) -> list[str]:
    """Words and parentheses; as in oslo.policy, a parenthesis is its own token only
    at a word's start or end, so ``%(target.id)s`` stays whole."""
    tokens: list[str] = []
    for word in text.split():
        opened = len(word) - len(word.lstrip("("))
        closed = len(word) - len(word.rstrip(")"))
        core = word[opened : len(word) - closed]
        tokens += ["("] * opened + ([core] if core else []) + [")"] * closed
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokens(text)
        self.at = 0

    def parse(self) -> Check:
        if not self.tokens:
            return _always  # oslo.policy: an empty rule allows everyone
        check = self._or()
        if self.at != len(self.tokens):
            raise PolicyError(f"unexpected {self.tokens[self.at]!r}")
        return check

    def _peek(self) -> str | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def _take(self) -> str:
        token = self._peek()
        if token is None:
            raise PolicyError("the rule ends too early")
        self.at += 1
        return token

    def _or(self) -> Check:
        parts = [self._and()]
        while self._peek() == "or":
            self._take()
            parts.append(self._and())
        if len(parts) == 1:
            return parts[0]
        return lambda c, t, e: any(part(c, t, e) for part in parts)

    def _and(self) -> Check:
        parts = [self._not()]
        while self._peek() == "and":
            self._take()
            parts.append(self._not())
        if len(parts) == 1:
            return parts[0]
        return lambda c, t, e: all(part(c, t, e) for part in parts)

    def _not(self) -> Check:
        if self._peek() == "not":
            self._take()
            inner = self._not()
            return lambda c, t, e: not inner(c, t, e)
        token = self._take()
        if token == "(":
            inner = self._or()
            if self._take() != ")":
                raise PolicyError("a '(' is not closed")
            return inner
        if token in (")", "and", "or"):
            raise PolicyError(f"unexpected {token!r}")
        return _check(token)


def parse_rule(text: str) -> Check:
    try:
        return _Parser(text).parse()
    except PolicyError as exc:
        raise PolicyError(f"cannot parse rule {text!r}: {exc}") from None


class PolicyEngine:
    """Decides whether a caller may do ``rule`` to ``target``."""

    def __init__(self, overrides: Mapping[str, str] | None = None) -> None:
        self.rules: dict[str, str] = {**DEFAULT_RULES, **(overrides or {})}
        self._compiled = {name: parse_rule(text) for name, text in self.rules.items()}
        self._depth = 0

    @classmethod
    def from_file(cls, path: Path | None) -> PolicyEngine:
        """The defaults, overridden by the YAML (or JSON) file at ``path`` if given."""
        if path is None:
            return cls()
        try:
            loaded = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise PolicyError(f"cannot read the policy file {path}: {exc}") from None
        if not isinstance(loaded, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in loaded.items()
        ):
            raise PolicyError(f"the policy file {path} must map rule names to rule strings")
        return cls(loaded)

    def check(self, rule: str, creds: Credentials, target: Target) -> bool:
        """Whether ``rule`` allows ``creds`` on ``target``; an unknown rule falls
        back to ``default``."""
        compiled = self._compiled.get(rule) or self._compiled["default"]
        self._depth += 1
        try:
            if self._depth > 20:
                raise PolicyError(f"rule {rule!r} refers to itself")
            return compiled(creds, target, self)
        finally:
            self._depth -= 1
