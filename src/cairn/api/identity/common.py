"""What every identity handler needs: the core, the state, ids from the path,
list filters, and running a decider as the caller."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any, TypeVar

import msgspec
from aiohttp import web

from cairn.api.faults import HTTPFault
from cairn.api.identity.auth import metadata
from cairn.api.identity.keys import IDENTITY
from cairn.events import Metadata
from cairn.identity.service import Identity
from cairn.projections.identity import IdentityState
from cairn.store.port import StreamWrite

T = TypeVar("T")

Name = Annotated[str, msgspec.Meta(min_length=1, max_length=255)]
#: Keystone's limit for domain, project and group names.
ShortName = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
Text = Annotated[str, msgspec.Meta(max_length=10_000)]
Password = Annotated[str, msgspec.Meta(min_length=1, max_length=72)]


def identity(request: web.Request) -> Identity:
    return request.config_dict[IDENTITY]


def state(request: web.Request) -> IdentityState:
    return request.config_dict[IDENTITY].state


def path_id(request: web.Request, name: str) -> str:
    value = request.match_info[name]
    if not value or len(value) > 255:
        raise HTTPFault.bad_request(f"Invalid {name}.")
    return value


async def run(
    request: web.Request, decide: Callable[[IdentityState, Metadata], list[StreamWrite]]
) -> None:
    meta = metadata(request)
    await identity(request).run(lambda s: decide(s, meta))


def query_bool(request: web.Request, name: str) -> bool | None:
    raw = request.query.get(name)
    if raw is None:
        return None
    lowered = raw.lower()
    if lowered in ("", "true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise HTTPFault.bad_request(f"Invalid value for {name}: expected true or false.")


def filtered(request: web.Request, items: Iterable[T], *fields: str) -> list[T]:
    """``items`` whose attributes equal the query's values for ``fields``
    (``enabled`` is a boolean filter)."""
    wanted: dict[str, Any] = {}
    for name in fields:
        if name == "enabled":
            flag = query_bool(request, name)
            if flag is not None:
                wanted[name] = flag
        elif name in request.query:
            wanted[name] = request.query[name]
    return [item for item in items if all(getattr(item, k) == v for k, v in wanted.items())]


_encoder = msgspec.json.Encoder()
encode_json = _encoder.encode


def json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    """A JSON response, encoded with msgspec (several times faster than ``json``)."""
    return web.Response(
        body=_encoder.encode(body), status=status, headers=headers, content_type="application/json"
    )
