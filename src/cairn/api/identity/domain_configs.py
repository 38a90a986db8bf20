"""``/v3/domains/{id}/config``: domain-specific configuration, stored per domain.

As in Keystone, a domain's configuration is the ``identity`` and ``ldap``
groups of options, set whole (``PUT``), merged (``PATCH``) or removed
(``DELETE``) for the domain, one group or one option; the defaults are at
``/v3/domains/config/default``. Sensitive options (``ldap.password``) are kept
but never shown. Unknown groups or options are 403s, as Keystone answers.

Cairn stores and returns what is set (one ``DomainConfigured`` event per
change, on ``domainconfig-<domain id>``); it has no per-domain identity drivers
(every domain's users live in the event log), so a configuration changes no
login. That is why ``scripts/tempest`` reports ``domain_specific_drivers`` off.
"""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.identity.auth import authorize
from cairn.api.identity.common import json, path_id, run, state
from cairn.events import Metadata
from cairn.events import identity as ev
from cairn.identity.decide import change, find
from cairn.identity.errors import Forbidden, Invalid, NotFound
from cairn.projections.identity import IdentityState
from cairn.store.port import StreamWrite

Config = dict[str, dict[str, ev.ConfigValue]]

#: The options a domain may set, with the value a domain has without one.
#: identity.driver: Cairn's identity lives in the event log, the counterpart of
#: Keystone's database driver, so it answers Keystone's name for that one.
DEFAULTS: Config = {
    "identity": {"driver": "sql", "list_limit": None},
    "ldap": {
        "url": "ldap://localhost", "user": None, "password": None, "suffix": "cn=example,cn=com",
        "query_scope": "one", "page_size": 0, "alias_dereferencing": "default",
        "chase_referrals": None, "use_tls": False, "tls_cacertfile": None, "tls_req_cert": "demand",
        "user_tree_dn": None, "user_filter": None, "user_objectclass": "inetOrgPerson",
        "user_id_attribute": "cn", "user_name_attribute": "sn", "user_mail_attribute": "mail",
        "user_description_attribute": "description", "user_pass_attribute": "userPassword",
        "user_enabled_attribute": "enabled", "group_tree_dn": None, "group_filter": None,
        "group_objectclass": "groupOfNames", "group_id_attribute": "cn",
        "group_name_attribute": "ou", "group_member_attribute": "member",
        "group_desc_attribute": "description",
    },
}  # fmt: skip
SENSITIVE = {("ldap", "password")}
MAX_VALUE = 4096


class ConfigBody(msgspec.Struct):
    config: dict[str, Any]


def _check(config: dict[str, Any]) -> Config:
    checked: Config = {}
    for group, options in config.items():
        if group not in DEFAULTS:
            raise Forbidden(
                f"Invalid domain specific configuration: group {group} is not supported."
            )
        if not isinstance(options, dict) or not options:
            raise Invalid(f"Group {group} must be a non-empty object of options.")
        for option, value in options.items():
            if option not in DEFAULTS[group]:
                raise Forbidden(
                    f"Invalid domain specific configuration: option {option} in group {group} "
                    "is not supported."
                )
            if not isinstance(value, str | int | float | bool) and value is not None:
                raise Invalid(f"Option {group}.{option} must be a string, number or boolean.")
            if isinstance(value, str) and len(value) > MAX_VALUE:
                raise Invalid(f"Option {group}.{option} is longer than {MAX_VALUE} characters.")
        checked[group] = dict(options)
    return checked


def _shown(config: Config) -> Config:
    return {
        g: {o: v for o, v in options.items() if (g, o) not in SENSITIVE}
        for g, options in config.items()
    }


def _current(request: web.Request, domain_id: str) -> Config:
    find(state(request).domains, domain_id, "domain")
    config = state(request).domain_configs.get(domain_id)
    if config is None:
        raise NotFound("domain config", domain_id)
    return config


async def _save(request: web.Request, domain_id: str, config: Config) -> None:
    event = ev.DomainConfigured(domain_id=domain_id, config=config)

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.domains, domain_id, "domain")
        return [change(s, "domainconfig", domain_id, m, event)]

    await run(request, decide)


def _group(request: web.Request) -> str:
    group = request.match_info["group"]
    if group not in DEFAULTS:
        raise NotFound("config group", group)
    return group


def _option(request: web.Request, group: str) -> str:
    option = request.match_info["option"]
    if option not in DEFAULTS[group] or (group, option) in SENSITIVE:
        raise NotFound("config option", f"{group}.{option}")
    return option


# -- the defaults ------------------------------------------------------------------------


async def defaults(request: web.Request) -> web.Response:
    await authorize(request, "identity:get_domain_config_default", {})
    return json({"config": _shown(DEFAULTS)})


async def group_defaults(request: web.Request) -> web.Response:
    await authorize(request, "identity:get_domain_config_default", {})
    group = _group(request)
    return json({"config": _shown({group: DEFAULTS[group]})})


async def option_default(request: web.Request) -> web.Response:
    await authorize(request, "identity:get_domain_config_default", {})
    group = _group(request)
    option = _option(request, group)
    return json({"config": {option: DEFAULTS[group][option]}})


# -- a domain's configuration ------------------------------------------------------------


async def put_config(request: web.Request) -> web.Response:
    domain_id = path_id(request, "domain_id")
    await authorize(request, "identity:create_domain_config", {})
    config = _check((await read_json(request, ConfigBody)).config)
    if not config:
        raise Invalid("A domain configuration needs at least one group.")
    existed = domain_id in state(request).domain_configs
    await _save(request, domain_id, config)
    return json({"config": _shown(config)}, 200 if existed else 201)


async def get_config(request: web.Request) -> web.Response:
    domain_id = path_id(request, "domain_id")
    await authorize(request, "identity:get_domain_config", {})
    return json({"config": _shown(_current(request, domain_id))})


async def patch_config(request: web.Request) -> web.Response:
    domain_id = path_id(request, "domain_id")
    await authorize(request, "identity:update_domain_config", {})
    given = _check((await read_json(request, ConfigBody)).config)
    merged = {g: dict(o) for g, o in _current(request, domain_id).items()}
    for group, options in given.items():
        merged.setdefault(group, {}).update(options)
    await _save(request, domain_id, merged)
    return json({"config": _shown(merged)})


async def delete_config(request: web.Request) -> web.Response:
    domain_id = path_id(request, "domain_id")
    await authorize(request, "identity:delete_domain_config", {})
    _current(request, domain_id)
    await _save(request, domain_id, {})
    return web.Response(status=204)


async def get_group(request: web.Request) -> web.Response:
    domain_id = path_id(request, "domain_id")
    await authorize(request, "identity:get_domain_config", {})
    group = _group(request)
    config = _current(request, domain_id)
    if group not in config:
        raise NotFound("config group", group)
    return json({"config": _shown({group: config[group]})})


async def patch_group(request: web.Request) -> web.Response:
    domain_id = path_id(request, "domain_id")
    await authorize(request, "identity:update_domain_config", {})
    group = _group(request)
    given = _check((await read_json(request, ConfigBody)).config)
    if set(given) != {group}:
        raise Invalid(f"The body must hold only group {group}, the one of the path.")
    merged = {g: dict(o) for g, o in _current(request, domain_id).items()}
    merged.setdefault(group, {}).update(given[group])
    await _save(request, domain_id, merged)
    return json({"config": _shown(merged)})


async def delete_group(request: web.Request) -> web.Response:
    domain_id = path_id(request, "domain_id")
    await authorize(request, "identity:delete_domain_config", {})
    group = _group(request)
    config = {g: dict(o) for g, o in _current(request, domain_id).items()}
    if config.pop(group, None) is None:
        raise NotFound("config group", group)
    await _save(request, domain_id, config)
    return web.Response(status=204)


async def get_option(request: web.Request) -> web.Response:
    domain_id = path_id(request, "domain_id")
    await authorize(request, "identity:get_domain_config", {})
    group = _group(request)
    option = _option(request, group)
    options = _current(request, domain_id).get(group, {})
    if option not in options:
        raise NotFound("config option", f"{group}.{option}")
    return json({"config": {option: options[option]}})


async def patch_option(request: web.Request) -> web.Response:
    domain_id = path_id(request, "domain_id")
    await authorize(request, "identity:update_domain_config", {})
    group = _group(request)
    option = request.match_info["option"]
    given = (await read_json(request, ConfigBody)).config
    if set(given) != {option}:
        raise Invalid(f"The body must hold only option {option}, the one of the path.")
    checked = _check({group: given})
    merged = {g: dict(o) for g, o in _current(request, domain_id).items()}
    merged.setdefault(group, {}).update(checked[group])
    await _save(request, domain_id, merged)
    return json({"config": _shown(merged)})


async def delete_option(request: web.Request) -> web.Response:
    domain_id = path_id(request, "domain_id")
    await authorize(request, "identity:delete_domain_config", {})
    group = _group(request)
    option = _option(request, group)
    config = {g: dict(o) for g, o in _current(request, domain_id).items()}
    if option not in config.get(group, {}):
        raise NotFound("config option", f"{group}.{option}")
    del config[group][option]
    if not config[group]:
        del config[group]
    await _save(request, domain_id, config)
    return web.Response(status=204)
