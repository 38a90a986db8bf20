"""``os-getConsoleOutput``: asked of the agent that owns the guest, never read here.

The guest's serial console is a file on its host, which may not be this
machine. The API appends ``ServerConsoleOutputRequested`` (naming the host and
a request id) to ``serverconsole-<server id>``; the host's agent
(``agents/compute/console.py``) appends ``ServerConsoleOutputCaptured`` with
that id, which this handler waits for, at most :data:`ANSWER_TIMEOUT` seconds
(docs/adr/0022). An answer ``same_as`` an earlier one is read from there.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import msgspec
from aiohttp import web

from cairn.api.compute.auth import authorize, metadata
from cairn.api.compute.common import invalid, json, whole
from cairn.api.faults import HTTPFault
from cairn.api.keys import STORE
from cairn.events import ANY_VERSION, registry
from cairn.events import compute as ev
from cairn.identity.service import Authenticated
from cairn.projections.compute import Server
from cairn.store.port import EventStore, StreamWrite

#: How long the API waits for the agent's answer.
ANSWER_TIMEOUT = 10.0
CAPTURED = "ServerConsoleOutputCaptured"
_captured = msgspec.json.Decoder(ev.ServerConsoleOutputCaptured).decode


def _length(args: Any) -> int | None:
    if isinstance(args, dict) and args.get("length") is not None:
        raw = whole(args["length"])
        if isinstance(raw, bool) or not isinstance(raw, int) or raw < -1:
            raise invalid("length", args["length"], "It must be an integer >= -1")
        return None if raw == -1 else raw
    if args is not None and not isinstance(args, dict):
        raise invalid("os-getConsoleOutput", args, "It must be an object")
    return None


async def console_output(
    request: web.Request, who: Authenticated, server: Server, args: Any
) -> web.Response:
    await authorize(
        request, "os_compute_api:servers:console_output", {"project_id": server.project_id}
    )
    length = _length(args)
    if server.vm_state == "building" or not server.host or not server.launched_at:
        raise HTTPFault.conflict(f"Instance {server.id} has not been launched yet.")
    store = request.config_dict[STORE]
    request_id = str(uuid.uuid4())
    asked = ev.ServerConsoleOutputRequested(
        server_id=server.id, host=server.host, request_id=request_id, length=length
    )
    stream = ev.console_stream(server.id)
    result = await store.append(
        StreamWrite(stream, [registry.new(asked, metadata(request, who))], ANY_VERSION)
    )
    answer = await _answer(store, stream, request_id, result.versions[stream], result.position)
    if answer is None:
        raise HTTPFault(
            503, f"The compute host {server.host} did not answer with the console output in time."
        )
    if answer.error == "unsupported":
        raise HTTPFault(501, "Unable to get console output: the hypervisor does not support it.")
    if answer.error is not None:
        raise HTTPFault.conflict(f"Instance {server.id} has no console output: {answer.error}.")
    output = answer.output
    if answer.same_as is not None:
        [earlier] = await store.read_stream(stream, from_version=answer.same_as, limit=1)
        output = _captured(earlier.data).output
    return json({"output": output})


async def _answer(
    store: EventStore, stream: str, request_id: str, version: int, position: int
) -> ev.ServerConsoleOutputCaptured | None:
    """The agent's answer to ``request_id`` (appended after ``version``), or None in time."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + ANSWER_TIMEOUT
    while True:
        for event in await store.read_stream(stream, from_version=version + 1):
            version = event.version
            position = max(position, event.position)
            if event.type == CAPTURED:
                found = _captured(event.data)
                if found.request_id == request_id:
                    return found
        remaining = deadline - loop.time()
        if remaining <= 0:
            return None
        await store.wait_for_new(position, timeout=min(remaining, 1.0))
