"""``/v3/OS-OAUTH1/consumers``: OAuth 1.0a consumers, as Keystone's api-ref has them.

A consumer is an id, a description and a secret; the secret is shown once, in
the answer to its creation, and kept sealed in the log (as credential blobs
are). The delegation flow (request and access tokens) is not built: a consumer
can be registered, listed, described and deleted.
"""

from __future__ import annotations

import secrets
from typing import Any

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.identity import render
from cairn.api.identity.auth import authorize
from cairn.api.identity.common import Text, identity, json, path_id, run, state
from cairn.events import Metadata
from cairn.events import identity as ev
from cairn.identity.decide import change, create, find, new_id
from cairn.identity.errors import Invalid
from cairn.projections.identity import Consumer, IdentityState
from cairn.store.port import StreamWrite


class NewConsumer(msgspec.Struct):
    description: Text | None = None


class ConsumerBody(msgspec.Struct):
    consumer: NewConsumer


class ConsumerChange(msgspec.Struct):
    description: Text | None = None
    secret: Any = msgspec.UNSET


class ConsumerChangeBody(msgspec.Struct):
    consumer: ConsumerChange


def _render(request: web.Request, c: Consumer, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": c.id, "description": c.description,
        "links": {"self": render.v3_url(request, f"/OS-OAUTH1/consumers/{c.id}")},
    }  # fmt: skip
    if secret is not None:
        body["secret"] = secret
    return body


async def list_consumers(request: web.Request) -> web.Response:
    await authorize(request, "identity:list_consumers", {})
    items = [_render(request, c) for c in state(request).consumers.values()]
    return json(render.collection(request, "consumers", items))


async def get_consumer(request: web.Request) -> web.Response:
    consumer_id = path_id(request, "consumer_id")
    await authorize(request, "identity:get_consumer", {})
    consumer = find(state(request).consumers, consumer_id, "consumer")
    return json({"consumer": _render(request, consumer)})


async def create_consumer(request: web.Request) -> web.Response:
    await authorize(request, "identity:create_consumer", {})
    body = (await read_json(request, ConsumerBody)).consumer
    secret = secrets.token_urlsafe(32)
    event = ev.ConsumerCreated(
        consumer_id=new_id(), sealed_secret=identity(request).sealer.seal(secret),
        description=body.description or "",
    )  # fmt: skip
    await run(request, lambda s, m: [create("consumer", event.consumer_id, m, event)])
    consumer = state(request).consumers[event.consumer_id]
    return json({"consumer": _render(request, consumer, secret)}, 201)


async def update_consumer(request: web.Request) -> web.Response:
    consumer_id = path_id(request, "consumer_id")
    await authorize(request, "identity:update_consumer", {})
    body = (await read_json(request, ConsumerChangeBody)).consumer
    if body.secret is not msgspec.UNSET:
        raise Invalid("A consumer's secret cannot be changed.")
    event = ev.ConsumerUpdated(consumer_id=consumer_id, description=body.description or "")

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.consumers, consumer_id, "consumer")
        return [change(s, "consumer", consumer_id, m, event)]

    await run(request, decide)
    return json({"consumer": _render(request, state(request).consumers[consumer_id])})


async def delete_consumer(request: web.Request) -> web.Response:
    consumer_id = path_id(request, "consumer_id")
    await authorize(request, "identity:delete_consumer", {})

    def decide(s: IdentityState, m: Metadata) -> list[StreamWrite]:
        find(s.consumers, consumer_id, "consumer")
        return [change(s, "consumer", consumer_id, m, ev.ConsumerDeleted(consumer_id=consumer_id))]

    await run(request, decide)
    return web.Response(status=204)
