"""``/v3/users/{user_id}/credentials/OS-EC2``: EC2-style access and secret keys.

As in Keystone, an EC2 credential is a ``/v3/credentials`` credential of type
``ec2`` whose blob holds ``access``, ``secret`` and ``trust_id``, scoped to a
project (``tenant_id``); its id is the SHA-256 of the access key, so it is
found by the access key alone. The blob is sealed in the log like every
credential's. A user manages their own (an admin anyone's); the project must
be one the user holds a role on.
"""

from __future__ import annotations

import hashlib
import json as jsonlib
import secrets
from typing import Any

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.identity import render
from cairn.api.identity.auth import authorize
from cairn.api.identity.common import Name, identity, json, path_id, run, state
from cairn.events import Metadata
from cairn.events import identity as ev
from cairn.identity import roles
from cairn.identity.decide import change, create, find
from cairn.identity.errors import Forbidden, NotFound
from cairn.projections.identity import Credential, IdentityState
from cairn.store.port import StreamWrite


class NewEc2(msgspec.Struct):
    tenant_id: Name


def credential_id(access: str) -> str:
    return hashlib.sha256(access.encode()).hexdigest()


def _target(user_id: str) -> dict[str, str]:
    return {"target.credential.user_id": user_id, "target.user.id": user_id}


def _body(request: web.Request, c: Credential) -> dict[str, Any]:
    blob = jsonlib.loads(identity(request).sealer.open(c.sealed_blob))
    return {
        "user_id": c.user_id, "tenant_id": c.project_id, "access": blob["access"],
        "secret": blob["secret"], "trust_id": blob.get("trust_id"),
        "links": {"self": render.v3_url(
            request, f"/users/{c.user_id}/credentials/OS-EC2/{blob['access']}")},
    }  # fmt: skip


def _mine(request: web.Request, user_id: str) -> list[Credential]:
    return [c for c in state(request).credentials.values()
            if c.user_id == user_id and c.type == "ec2"]  # fmt: skip


def _one(request: web.Request, user_id: str) -> Credential:
    access = path_id(request, "access")
    found = state(request).credentials.get(credential_id(access))
    if found is None or found.user_id != user_id or found.type != "ec2":
        raise NotFound("credential", access)
    return found


async def create_ec2(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    await authorize(request, "identity:ec2_create_credential", _target(user_id))
    body = await read_json(request, NewEc2)
    access, secret = secrets.token_hex(16), secrets.token_hex(16)
    blob = jsonlib.dumps({"access": access, "secret": secret, "trust_id": None})
    event = ev.CredentialCreated(
        credential_id=credential_id(access), user_id=user_id, type="ec2",
        sealed_blob=identity(request).sealer.seal(blob), project_id=body.tenant_id,
    )  # fmt: skip

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.users, user_id, "user")
        find(s.projects, body.tenant_id, "project")
        if not roles.effective_role_ids(s, user_id, "project", body.tenant_id):
            raise Forbidden(f"User {user_id} has no role on project {body.tenant_id}.")
        return [create("credential", event.credential_id, m, event)]

    await run(request, decide)
    credential = state(request).credentials[event.credential_id]
    return json({"credential": _body(request, credential)}, 201)


async def list_ec2(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    await authorize(request, "identity:ec2_list_credentials", _target(user_id))
    find(state(request).users, user_id, "user")
    items = [_body(request, c) for c in sorted(_mine(request, user_id), key=lambda c: c.id)]
    return json(render.collection(request, "credentials", items))


async def show_ec2(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    await authorize(request, "identity:ec2_get_credential", _target(user_id))
    return json({"credential": _body(request, _one(request, user_id))})


async def delete_ec2(request: web.Request) -> web.Response:
    user_id = path_id(request, "user_id")
    await authorize(request, "identity:ec2_delete_credential", _target(user_id))
    cred_id = _one(request, user_id).id

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.credentials, cred_id, "credential")
        return [change(s, "credential", cred_id, m, ev.CredentialDeleted(credential_id=cred_id))]

    await run(request, decide)
    return web.Response(status=204)
