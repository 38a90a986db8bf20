"""``/v3/users`` (and a user's own password and projects) and ``/v3/groups``."""

from __future__ import annotations

import time
from typing import Annotated, Any

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.identity import render
from cairn.api.identity.auth import authorize
from cairn.api.identity.common import (
    Name,
    Password,
    ShortName,
    Text,
    filtered,
    identity,
    json,
    path_id,
    run,
    state,
)
from cairn.events import identity as ev
from cairn.identity import commands, roles
from cairn.identity.decide import find, new_id
from cairn.identity.errors import Unauthorized
from cairn.identity.service import Authenticated

UNSET = msgspec.UNSET


class NewUser(msgspec.Struct):
    name: Name
    domain_id: Name | None = None
    password: Password | None = None
    enabled: bool = True
    default_project_id: Name | None = None
    description: Text | None = None
    email: Text | None = None


class UserChange(msgspec.Struct):
    name: Name | msgspec.UnsetType = UNSET
    password: Password | msgspec.UnsetType = UNSET
    enabled: bool | msgspec.UnsetType = UNSET
    default_project_id: Name | msgspec.UnsetType | None = UNSET
    description: Text | msgspec.UnsetType | None = UNSET
    email: Text | msgspec.UnsetType | None = UNSET


class UserBody(msgspec.Struct):
    user: NewUser


#: Attributes Keystone knows (or Cairn keeps elsewhere); any other is an extra.
KNOWN = frozenset(NewUser.__struct_fields__) | {"id", "links", "options", "password_expires_at",
                                                "original_password"}  # fmt: skip
MAX_EXTRA = 32
Extra = Annotated[str, msgspec.Meta(max_length=10_000)] | int | float | bool | None


async def _extras(request: web.Request) -> dict[str, ev.Extra] | msgspec.UnsetType:
    """The body's attributes beyond Keystone's own: kept and returned as given, as
    Keystone keeps them (``project_id`` is one Tempest sends); scalars only."""
    raw = await read_json(request, dict[str, dict[str, Any]])
    body = next(iter(raw.values()), {})
    extra = {k: v for k, v in body.items() if k not in KNOWN}
    if not extra:
        return msgspec.UNSET
    if len(extra) > MAX_EXTRA or any(len(k) > 255 for k in extra):
        raise HTTPFault.bad_request(f"At most {MAX_EXTRA} extra attributes of 255 characters.")
    try:
        return msgspec.convert(extra, dict[str, Extra])
    except msgspec.ValidationError as exc:
        raise HTTPFault.bad_request(f"Invalid extra attribute: {exc}") from None


class UserChangeBody(msgspec.Struct):
    user: UserChange


class PasswordChange(msgspec.Struct):
    password: Password
    original_password: Password


class PasswordChangeBody(msgspec.Struct):
    user: PasswordChange


def _home(who: Authenticated) -> str:
    """The domain a new user or group lands in when none is named: the caller's."""
    creds = who.credentials
    return creds.domain_id or creds.project_domain_id or "default"


def _user_target(request: web.Request, user_id: str) -> dict[str, str]:
    user = state(request).users.get(user_id)
    target = {"target.user.id": user_id}
    if user is not None:
        target["target.user.domain_id"] = user.domain_id
    return target


async def list_users(request: web.Request) -> web.Response:
    domain_id = request.query.get("domain_id")
    await authorize(
        request, "identity:list_users", {"target.domain_id": domain_id} if domain_id else {}
    )
    items = filtered(request, state(request).users.values(), "name", "domain_id", "enabled")
    return json(render.collection(request, "users", [render.user(request, u) for u in items]))


async def get_user(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    await authorize(request, "identity:get_user", _user_target(request, user_id))
    return json({"user": render.user(request, find(state(request).users, user_id, "user"))})


async def create_user(request: web.Request) -> web.Response:
    who = await authorize(request, "identity:create_user", {})
    body = (await read_json(request, UserBody)).user
    extras = await _extras(request)
    hashed = None if body.password is None else await identity(request).hasher.hash(body.password)
    event = ev.UserCreated(
        user_id=new_id(), domain_id=body.domain_id or _home(who),
        name=body.name, enabled=body.enabled, password_hash=hashed,
        default_project_id=body.default_project_id, description=body.description or "",
        email=body.email, extra=extras or {},
    )  # fmt: skip
    await run(request, lambda s, m: commands.create_user(s, m, event))
    return json({"user": render.user(request, state(request).users[event.user_id])}, 201)


async def update_user(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    await authorize(request, "identity:update_user", _user_target(request, user_id))
    change = (await read_json(request, UserChangeBody)).user
    extras = await _extras(request)
    old = find(state(request).users, user_id, "user")
    event = ev.UserUpdated(
        user_id=user_id,
        name=old.name if change.name is UNSET else change.name,
        enabled=old.enabled if change.enabled is UNSET else change.enabled,
        default_project_id=old.default_project_id
        if change.default_project_id is UNSET
        else change.default_project_id,
        description=old.description if change.description is UNSET else change.description or "",
        email=old.email if change.email is UNSET else change.email,
        extra=old.extra if extras is UNSET else {**old.extra, **extras},
    )
    now = time.time()
    await run(request, lambda s, m: commands.update_user(s, m, event, now))
    if change.password is not UNSET:
        hashed = await identity(request).hasher.hash(change.password)
        at = time.time()
        await run(request, lambda s, m: commands.change_password(s, m, user_id, hashed, at))
    return json({"user": render.user(request, state(request).users[user_id])})


async def change_own_password(request: web.Request) -> web.Response:
    """``POST /v3/users/{id}/password``: the user's own, with the original password."""
    user_id = path_id(request, "user_id")
    await authorize(request, "identity:change_password", _user_target(request, user_id))
    body = (await read_json(request, PasswordChangeBody)).user
    user = find(state(request).users, user_id, "user")
    if not await identity(request).hasher.verify(body.original_password, user.password_hash):
        raise Unauthorized("The original password is not correct.")
    hashed = await identity(request).hasher.hash(body.password)
    at = time.time()
    await run(request, lambda s, m: commands.change_password(s, m, user_id, hashed, at))
    return web.Response(status=204)


async def delete_user(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    await authorize(request, "identity:delete_user", _user_target(request, user_id))
    await run(request, lambda s, m: commands.delete_user(s, m, user_id))
    return web.Response(status=204)


async def user_projects(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    await authorize(request, "identity:list_user_projects", _user_target(request, user_id))
    s = state(request)
    find(s.users, user_id, "user")
    ids = roles.scopes_with_roles(s, user_id, "project")
    items = [render.project(request, s.projects[i]) for i in sorted(ids) if i in s.projects]
    return json(render.collection(request, "projects", items))


async def user_groups(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    await authorize(request, "identity:list_groups_for_user", _user_target(request, user_id))
    s = state(request)
    find(s.users, user_id, "user")
    items = [
        render.group(request, s.groups[g]) for g in roles.groups_of(s, user_id) if g in s.groups
    ]
    return json(render.collection(request, "groups", items))


# -- groups ------------------------------------------------------------------------


class NewGroup(msgspec.Struct):
    name: ShortName
    domain_id: Name | None = None
    description: Text | None = None


class GroupBody(msgspec.Struct):
    group: NewGroup


async def list_groups(request: web.Request) -> web.Response:
    domain_id = request.query.get("domain_id")
    await authorize(
        request, "identity:list_groups", {"target.domain_id": domain_id} if domain_id else {}
    )
    items = filtered(request, state(request).groups.values(), "name", "domain_id")
    return json(render.collection(request, "groups", [render.group(request, g) for g in items]))


async def get_group(request: web.Request) -> web.Response:
    group_id = path_id(request, "group_id")
    group = state(request).groups.get(group_id)
    target = {"target.group.id": group_id}
    if group is not None:
        target["target.group.domain_id"] = group.domain_id
    await authorize(request, "identity:get_group", target)
    return json({"group": render.group(request, find(state(request).groups, group_id, "group"))})


async def create_group(request: web.Request) -> web.Response:
    who = await authorize(request, "identity:create_group", {})
    body = (await read_json(request, GroupBody)).group
    event = ev.GroupCreated(
        group_id=new_id(), domain_id=body.domain_id or _home(who),
        name=body.name, description=body.description or "",
    )  # fmt: skip
    await run(request, lambda s, m: commands.create_group(s, m, event))
    return json({"group": render.group(request, state(request).groups[event.group_id])}, 201)


class GroupChange(msgspec.Struct):
    name: ShortName | msgspec.UnsetType = UNSET
    description: Text | msgspec.UnsetType | None = UNSET


class GroupChangeBody(msgspec.Struct):
    group: GroupChange


async def update_group(request: web.Request) -> web.Response:
    group_id = path_id(request, "group_id")
    await authorize(request, "identity:update_group", {"target.group.id": group_id})
    change = (await read_json(request, GroupChangeBody)).group
    old = find(state(request).groups, group_id, "group")
    event = ev.GroupUpdated(
        group_id=group_id,
        name=old.name if change.name is UNSET else change.name,
        description=old.description if change.description is UNSET else change.description or "",
    )
    await run(request, lambda s, m: commands.update_group(s, m, event))
    return json({"group": render.group(request, state(request).groups[group_id])})


async def delete_group(request: web.Request) -> web.Response:
    group_id = path_id(request, "group_id")
    await authorize(request, "identity:delete_group", {"target.group.id": group_id})
    await run(request, lambda s, m: commands.delete_group(s, m, group_id))
    return web.Response(status=204)


async def group_users(request: web.Request) -> web.Response:
    group_id = path_id(request, "group_id")
    await authorize(request, "identity:list_users_in_group", {"target.group.id": group_id})
    s = state(request)
    find(s.groups, group_id, "group")
    members = sorted(s.members.get(group_id, ()))
    items = [render.user(request, s.users[u]) for u in members if u in s.users]
    return json(render.collection(request, "users", items))


async def add_member(request: web.Request) -> web.Response:
    group_id, user_id = path_id(request, "group_id"), path_id(request, "user_id")
    await authorize(request, "identity:add_user_to_group", {"target.group.id": group_id})
    await run(request, lambda s, m: commands.add_to_group(s, m, group_id, user_id))
    return web.Response(status=204)


async def check_member(request: web.Request) -> web.Response:
    group_id, user_id = path_id(request, "group_id"), path_id(request, "user_id")
    await authorize(request, "identity:check_user_in_group", {"target.group.id": group_id})
    s = state(request)
    find(s.groups, group_id, "group")
    find(s.users, user_id, "user")
    if user_id not in s.members.get(group_id, ()):
        raise web.HTTPNotFound(text=f"User {user_id} is not in group {group_id}.")
    return web.Response(status=204)


async def remove_member(request: web.Request) -> web.Response:
    group_id, user_id = path_id(request, "group_id"), path_id(request, "user_id")
    await authorize(request, "identity:remove_user_from_group", {"target.group.id": group_id})
    await run(request, lambda s, m: commands.remove_from_group(s, m, group_id, user_id))
    return web.Response(status=204)
