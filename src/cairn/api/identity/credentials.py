"""``/v3/credentials`` (blobs sealed in the log, shown to their owner or an admin)
and ``/v3/policies`` (policy documents stored as blobs, as Keystone keeps them)."""

from __future__ import annotations

from typing import Any

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.identity import render
from cairn.api.identity.auth import authorize, caller
from cairn.api.identity.common import Name, identity, json, path_id, run, state
from cairn.events import Metadata
from cairn.events import identity as ev
from cairn.identity.decide import change, create, find, new_id
from cairn.projections.identity import Credential, IdentityState, PolicyBlob
from cairn.sealing import CannotOpen
from cairn.store.port import StreamWrite

UNSET = msgspec.UNSET
Blob = str  # a JSON document as text, as Keystone stores it
MAX_BLOB = 64 * 1024


class NewCredential(msgspec.Struct):
    blob: Blob
    type: Name
    user_id: Name | None = None
    project_id: Name | None = None


class CredentialChange(msgspec.Struct):
    blob: Blob | msgspec.UnsetType = UNSET
    type: Name | msgspec.UnsetType = UNSET
    project_id: Name | msgspec.UnsetType | None = UNSET


class CredentialBody(msgspec.Struct):
    credential: NewCredential


class CredentialChangeBody(msgspec.Struct):
    credential: CredentialChange


def _target(user_id: str) -> dict[str, str]:
    return {"target.credential.user_id": user_id}


def _render(request: web.Request, c: Credential) -> dict[str, Any]:
    try:
        blob = identity(request).sealer.open(c.sealed_blob)
    except CannotOpen as exc:
        raise HTTPFault(500, f"Credential {c.id} cannot be opened: {exc}.") from None
    return {
        "id": c.id, "user_id": c.user_id, "project_id": c.project_id, "type": c.type,
        "blob": blob, "links": {"self": render.v3_url(request, f"/credentials/{c.id}")},
    }  # fmt: skip


def _check_blob(blob: str) -> None:
    if not blob or len(blob) > MAX_BLOB:
        raise HTTPFault.bad_request(f"A credential blob is 1 to {MAX_BLOB} characters.")


def _valid_refs(s: IdentityState, user_id: str, project_id: str | None) -> None:
    find(s.users, user_id, "user")
    if project_id is not None:
        find(s.projects, project_id, "project")


async def list_credentials(request: web.Request) -> web.Response:
    who = caller(request)
    engine = identity(request)
    creds = [
        c for c in state(request).credentials.values()
        if engine.allowed("identity:list_credentials", who, _target(c.user_id))
    ]  # fmt: skip
    for key in ("user_id", "type"):
        if key in request.query:
            creds = [c for c in creds if getattr(c, key) == request.query[key]]
    items = [_render(request, c) for c in sorted(creds, key=lambda c: c.id)]
    return json(render.collection(request, "credentials", items))


async def get_credential(request: web.Request) -> web.Response:
    cred_id = path_id(request, "credential_id")
    found = state(request).credentials.get(cred_id)
    await authorize(request, "identity:get_credential", _target(found.user_id if found else ""))
    return json(
        {"credential": _render(request, find(state(request).credentials, cred_id, "credential"))}
    )


async def create_credential(request: web.Request) -> web.Response:
    who = caller(request)
    body = (await read_json(request, CredentialBody)).credential
    user_id = body.user_id or who.user_id
    await authorize(request, "identity:create_credential", _target(user_id))
    _check_blob(body.blob)
    event = ev.CredentialCreated(
        credential_id=new_id(), user_id=user_id, type=body.type,
        sealed_blob=identity(request).sealer.seal(body.blob), project_id=body.project_id,
    )  # fmt: skip

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        _valid_refs(s, event.user_id, event.project_id)
        return [create("credential", event.credential_id, m, event)]

    await run(request, decide)
    return json(
        {"credential": _render(request, state(request).credentials[event.credential_id])}, 201
    )


async def update_credential(request: web.Request) -> web.Response:
    cred_id = path_id(request, "credential_id")
    found = state(request).credentials.get(cred_id)
    await authorize(request, "identity:update_credential", _target(found.user_id if found else ""))
    change_body = (await read_json(request, CredentialChangeBody)).credential
    old = find(state(request).credentials, cred_id, "credential")
    sealed = old.sealed_blob
    if change_body.blob is not UNSET:
        _check_blob(change_body.blob)
        sealed = identity(request).sealer.seal(change_body.blob)
    event = ev.CredentialUpdated(
        credential_id=cred_id, user_id=old.user_id, sealed_blob=sealed,
        type=old.type if change_body.type is UNSET else change_body.type,
        project_id=old.project_id if change_body.project_id is UNSET else change_body.project_id,
    )  # fmt: skip

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.credentials, cred_id, "credential")
        _valid_refs(s, event.user_id, event.project_id)
        return [change(s, "credential", cred_id, m, event)]

    await run(request, decide)
    return json({"credential": _render(request, state(request).credentials[cred_id])})


async def delete_credential(request: web.Request) -> web.Response:
    cred_id = path_id(request, "credential_id")
    found = state(request).credentials.get(cred_id)
    await authorize(request, "identity:delete_credential", _target(found.user_id if found else ""))

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.credentials, cred_id, "credential")
        return [change(s, "credential", cred_id, m, ev.CredentialDeleted(credential_id=cred_id))]

    await run(request, decide)
    return web.Response(status=204)


# -- policies ----------------------------------------------------------------------------


class NewPolicy(msgspec.Struct):
    blob: Blob
    type: Name


class PolicyBody(msgspec.Struct):
    policy: NewPolicy


class PolicyChange(msgspec.Struct):
    blob: Blob | msgspec.UnsetType = msgspec.UNSET
    type: Name | msgspec.UnsetType = msgspec.UNSET


class PolicyChangeBody(msgspec.Struct):
    policy: PolicyChange


def _policy(request: web.Request, p: PolicyBlob) -> dict[str, Any]:
    return {"id": p.id, "type": p.type, "blob": p.blob,
            "links": {"self": render.v3_url(request, f"/policies/{p.id}")}}  # fmt: skip


async def list_policies(request: web.Request) -> web.Response:
    await authorize(request, "identity:list_policies", {})
    items = [_policy(request, p) for p in state(request).policies.values()]
    return json(render.collection(request, "policies", items))


async def get_policy(request: web.Request) -> web.Response:
    policy_id = path_id(request, "policy_id")
    await authorize(request, "identity:get_policy", {})
    return json({"policy": _policy(request, find(state(request).policies, policy_id, "policy"))})


async def create_policy(request: web.Request) -> web.Response:
    await authorize(request, "identity:create_policy", {})
    body = (await read_json(request, PolicyBody)).policy
    _check_blob(body.blob)
    event = ev.PolicyCreated(policy_id=new_id(), type=body.type, blob=body.blob)
    await run(request, lambda s, m: [create("policy", event.policy_id, m, event)])
    return json({"policy": _policy(request, state(request).policies[event.policy_id])}, 201)


async def update_policy(request: web.Request) -> web.Response:
    policy_id = path_id(request, "policy_id")
    await authorize(request, "identity:update_policy", {})
    body = (await read_json(request, PolicyChangeBody)).policy
    old = find(state(request).policies, policy_id, "policy")
    blob = old.blob if body.blob is msgspec.UNSET else body.blob
    _check_blob(blob)
    event = ev.PolicyUpdated(
        policy_id=policy_id, type=old.type if body.type is msgspec.UNSET else body.type, blob=blob
    )

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.policies, policy_id, "policy")
        return [change(s, "policy", policy_id, m, event)]

    await run(request, decide)
    return json({"policy": _policy(request, state(request).policies[policy_id])})


async def delete_policy(request: web.Request) -> web.Response:
    policy_id = path_id(request, "policy_id")
    await authorize(request, "identity:delete_policy", {})

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.policies, policy_id, "policy")
        return [change(s, "policy", policy_id, m, ev.PolicyDeleted(policy_id=policy_id))]

    await run(request, decide)
    return web.Response(status=204)
