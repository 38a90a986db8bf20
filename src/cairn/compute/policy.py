"""Compute's policy defaults (Nova's rule names), checked by identity's one engine.

The engine's defaults are identity's; compute adds its own here without
touching them: a rule the operator set in the policy file wins, else the
default below, written in the same rule language with identity's building
blocks (``rule:admin_or_project_member``, ...).
"""

from __future__ import annotations

from functools import cache

from cairn.identity.policy import Check, Credentials, PolicyEngine, Target, parse_rule

ADMIN = "rule:admin_required"
READER = "rule:admin_or_project_reader"
MEMBER = "rule:admin_or_project_member"
ANYONE = "@"

_SERVER_MEMBER = (
    "create", "update", "delete", "start", "stop", "reboot", "pause", "unpause", "suspend",
    "resume", "lock", "unlock", "console_output", "create_image", "rebuild",
    "trigger_crash_dump", "restore", "resize", "confirm_resize", "revert_resize",
    "metadata:create", "metadata:update", "metadata:update_all",
    "metadata:delete",
)  # fmt: skip

DEFAULTS: dict[str, str] = {
    "os_compute_api:servers:index": READER,
    "os_compute_api:servers:detail": READER,
    "os_compute_api:servers:show": READER,
    "os_compute_api:ips:index": READER,
    "os_compute_api:os-security-groups:get": READER,
    "os_compute_api:os-security-groups:show": READER,
    "os_compute_api:os-security-groups:list": READER,
    "os_compute_api:os-security-groups:create": MEMBER,
    "os_compute_api:os-security-groups:update": MEMBER,
    "os_compute_api:os-security-groups:delete": MEMBER,
    "os_compute_api:os-security-groups:rule:create": MEMBER,
    "os_compute_api:os-security-groups:rule:delete": MEMBER,
    "os_compute_api:os-security-groups:add": MEMBER,
    "os_compute_api:os-security-groups:remove": MEMBER,
    "os_compute_api:ips:show": READER,
    "os_compute_api:os-floating-ips:list": READER,
    "os_compute_api:os-floating-ips:show": READER,
    "os_compute_api:os-floating-ips:create": MEMBER,
    "os_compute_api:os-floating-ips:delete": MEMBER,
    "os_compute_api:os-floating-ips:add": MEMBER,
    "os_compute_api:os-floating-ips:remove": MEMBER,
    "os_compute_api:os-floating-ip-pools:list": ANYONE,
    "os_compute_api:os-networks:list": READER,
    "os_compute_api:os-networks:show": READER,
    "os_compute_api:os-tenant-networks:list": READER,
    "os_compute_api:os-tenant-networks:show": READER,
    "os_compute_api:os-attach-interfaces:list": READER,
    "os_compute_api:os-attach-interfaces:show": READER,
    "os_compute_api:os-attach-interfaces:create": MEMBER,
    "os_compute_api:os-attach-interfaces:delete": MEMBER,
    "os_compute_api:os-remote-consoles": MEMBER,
    "os_compute_api:os-admin-password": MEMBER,
    "os_compute_api:os-console-auth-tokens": ADMIN,
    "os_compute_api:servers:index:get_all_tenants": ADMIN,
    "os_compute_api:servers:allow_all_filters": ADMIN,
    "os_compute_api:servers:show:host_status": ADMIN,
    "os_compute_api:servers:create:forced_host": ADMIN,
    "os_compute_api:servers:force_delete": MEMBER,
    "os_compute_api:os-extended-server-attributes": ADMIN,
    "os_compute_api:os-lock-server:unlock:unlock_override": ADMIN,
    "os_compute_api:os-admin-actions:reset_state": ADMIN,
    "os_compute_api:os-server-diagnostics": ADMIN,
    "os_compute_api:servers:metadata:index": READER,
    "os_compute_api:servers:metadata:show": READER,
    **{f"os_compute_api:servers:{name}": MEMBER for name in _SERVER_MEMBER},
    "os_compute_api:os-server-tags:index": READER,
    "os_compute_api:os-server-tags:show": READER,
    **{
        f"os_compute_api:os-server-tags:{name}": MEMBER
        for name in ("update", "update_all", "delete", "delete_all")
    },
    "os_compute_api:os-instance-actions:list": READER,
    "os_compute_api:os-instance-actions:show": READER,
    "os_compute_api:os-shelve:shelve": MEMBER,
    "os_compute_api:os-shelve:shelve_offload": ADMIN,
    "os_compute_api:os-shelve:unshelve": MEMBER,
    "os_compute_api:os-shelve:unshelve_to_host": ADMIN,
    "os_compute_api:os-rescue": MEMBER,
    "os_compute_api:os-unrescue": MEMBER,
    "os_compute_api:os-instance-actions:events": ADMIN,
    "os_compute_api:os-flavor-manage:create": ADMIN,
    "os_compute_api:os-flavor-manage:update": ADMIN,
    "os_compute_api:os-flavor-manage:delete": ADMIN,
    "os_compute_api:os-flavor-extra-specs:index": ANYONE,
    "os_compute_api:os-flavor-extra-specs:show": ANYONE,
    "os_compute_api:os-flavor-extra-specs:create": ADMIN,
    "os_compute_api:os-flavor-extra-specs:update": ADMIN,
    "os_compute_api:os-flavor-extra-specs:delete": ADMIN,
    "os_compute_api:os-flavor-access": ADMIN,
    "os_compute_api:os-flavor-access:add_tenant_access": ADMIN,
    "os_compute_api:os-flavor-access:remove_tenant_access": ADMIN,
    "os_compute_api:os-quota-sets:show": READER,
    "os_compute_api:os-quota-sets:defaults": ANYONE,
    "os_compute_api:os-quota-sets:update": ADMIN,
    "os_compute_api:os-quota-sets:delete": ADMIN,
    "os_compute_api:os-quota-sets:detail": READER,
    "os_compute_api:os-quota-class-sets:show": ADMIN,
    "os_compute_api:os-quota-class-sets:update": ADMIN,
    "os_compute_api:limits": ANYONE,
    "os_compute_api:extensions": ANYONE,
    "os_compute_api:os-volumes:list": READER,
    "os_compute_api:os-volumes:show": READER,
    "os_compute_api:os-volumes:create": MEMBER,
    "os_compute_api:os-volumes:delete": MEMBER,
    "os_compute_api:os-volumes:snapshots:list": READER,
    "os_compute_api:os-volumes:snapshots:show": READER,
    "os_compute_api:os-volumes:snapshots:create": MEMBER,
    "os_compute_api:os-volumes:snapshots:delete": MEMBER,
    "os_compute_api:os-volumes-attachments:index": READER,
    "os_compute_api:os-volumes-attachments:show": READER,
    "os_compute_api:os-volumes-attachments:create": MEMBER,
    "os_compute_api:os-volumes-attachments:update": ADMIN,
    "os_compute_api:os-volumes-attachments:swap": ADMIN,
    "os_compute_api:os-volumes-attachments:delete": MEMBER,
    # the image service decides who sees and changes an image (the caller's token)
    **{f"os_compute_api:image-proxy:{name}": ANYONE for name in ("list", "show", "delete")},
    **{
        f"os_compute_api:image-metadata:{name}": ANYONE
        for name in ("index", "show", "create", "update", "update_all", "delete")
    },
    "os_compute_api:limits:other_project": ADMIN,
    "os_compute_api:os-keypairs:index": "rule:admin_required or user_id:%(user_id)s",
    "os_compute_api:os-keypairs:show": "rule:admin_required or user_id:%(user_id)s",
    "os_compute_api:os-keypairs:create": "rule:admin_required or user_id:%(user_id)s",
    "os_compute_api:os-keypairs:delete": "rule:admin_required or user_id:%(user_id)s",
    "os_compute_api:os-availability-zone:list": ANYONE,
    "os_compute_api:os-availability-zone:detail": ADMIN,
    "os_compute_api:os-migrate-server:migrate": ADMIN,
    "os_compute_api:os-migrate-server:migrate:host": ADMIN,
    "os_compute_api:os-migrations:index": ADMIN,
    "os_compute_api:servers:migrations:index": ADMIN,
    "os_compute_api:servers:migrations:show": ADMIN,
    "os_compute_api:os-hypervisors:list": ADMIN,
    "os_compute_api:os-hypervisors:list-detail": ADMIN,
    "os_compute_api:os-hypervisors:show": ADMIN,
    "os_compute_api:os-hypervisors:statistics": ADMIN,
    "os_compute_api:os-hypervisors:uptime": ADMIN,
    "os_compute_api:os-hypervisors:search": ADMIN,
    "os_compute_api:os-hypervisors:servers": ADMIN,
    "os_compute_api:os-services:list": ADMIN,
    "os_compute_api:os-simple-tenant-usage:list": ADMIN,
    "os_compute_api:os-simple-tenant-usage:show": READER,
    "os_compute_api:os-instance-usage-audit-log:list": ADMIN,
    "os_compute_api:os-instance-usage-audit-log:show": ADMIN,
    **{
        f"os_compute_api:os-hosts:{name}": ADMIN
        for name in ("list", "show", "update", "start", "shutdown", "reboot")
    },
    "os_compute_api:os-aggregates:index": ADMIN,
    "os_compute_api:os-aggregates:show": ADMIN,
    "os_compute_api:os-aggregates:create": ADMIN,
    "os_compute_api:os-aggregates:update": ADMIN,
    "os_compute_api:os-aggregates:delete": ADMIN,
    "os_compute_api:os-aggregates:add_host": ADMIN,
    "os_compute_api:os-aggregates:remove_host": ADMIN,
    "os_compute_api:os-aggregates:set_metadata": ADMIN,
    "os_compute_api:os-services:update": ADMIN,
    "os_compute_api:os-server-groups:index": READER,
    "os_compute_api:os-server-groups:index:all_projects": ADMIN,
    "os_compute_api:os-server-groups:show": READER,
    "os_compute_api:os-server-groups:create": "rule:project_member or rule:admin_required",
    "os_compute_api:os-server-groups:delete": MEMBER,
}


@cache
def _compiled(text: str) -> Check:
    return parse_rule(text)


def allowed(engine: PolicyEngine, rule: str, creds: Credentials, target: Target) -> bool:
    """Whether ``rule`` allows ``creds`` on ``target``: the operator's rule if the
    policy file sets it, else compute's default (else the engine's ``default``)."""
    if rule in engine.rules or rule not in DEFAULTS:
        return engine.check(rule, creds, target)
    return _compiled(DEFAULTS[rule])(creds, target, engine)
