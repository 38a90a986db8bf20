"""``/v2/tasks``: Glance's asynchronous tasks (``import`` only), and their schemas.

Admins only, Glance's default (``tasks_api_access``): an admin sees every
task; the work is :mod:`cairn.image.tasks` (made and run by
:meth:`cairn.image.service.Images.start_task`).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Literal

import msgspec
from aiohttp import web

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.image.common import caller, images, json, visible_image
from cairn.api.image.render import timestamp
from cairn.projections.image import Task


class NewTask(msgspec.Struct):
    type: Literal["import"]
    input: dict[str, Any]


def task_body(task: Task, *, full: bool = True) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": task.id, "type": task.type, "status": task.status, "owner": task.owner,
        "created_at": timestamp(task.created_at), "updated_at": timestamp(task.updated_at),
        "expires_at": None if task.expires_at is None
        else timestamp(datetime.fromtimestamp(task.expires_at, UTC)),
        "self": f"/v2/tasks/{task.id}", "schema": "/v2/schemas/task",
    }  # fmt: skip
    if full:
        body.update(input=task.input, result=task.result, message=task.message)
    return body


async def create(request: web.Request) -> web.Response:
    who = await caller(request, "image:tasks_api_access", {"project_id": None})
    body = await read_json(request, NewTask)
    task_id = str(uuid.uuid4())
    await images(request).start_task(task_id, who.project, body.input, who.meta)
    return json(task_body(images(request).state.tasks[task_id]), status=201)


async def index(request: web.Request) -> web.Response:
    await caller(request, "image:tasks_api_access", {"project_id": None})
    tasks = sorted(images(request).state.tasks.values(), key=lambda t: t.created_at, reverse=True)
    for key in ("status", "type"):
        if key in request.query:
            tasks = [t for t in tasks if getattr(t, key) == request.query[key]]
    return json({"tasks": [task_body(t, full=False) for t in tasks], "first": "/v2/tasks",
                 "schema": "/v2/schemas/tasks"})  # fmt: skip


async def show(request: web.Request) -> web.Response:
    await caller(request, "image:tasks_api_access", {"project_id": None})
    task_id = request.match_info["task_id"]
    task = images(request).state.tasks.get(task_id)
    if task is None:
        raise HTTPFault.not_found(f"Task with the given id {task_id} not found")
    return json(task_body(task))


async def of_image(request: web.Request) -> web.Response:
    """``GET /v2/images/{id}/tasks`` (2.12): the tasks that made the image's data,
    for whoever may see the image (Glance's ``image:get_image``), newest first.
    An image whose data was uploaded, or copied from a server, has none."""
    who = await caller(request, "image:get_image", {"project_id": None})
    image = visible_image(request, who)
    found = [
        t
        for t in images(request).state.tasks.values()
        if (t.result or {}).get("image_id") == image.id
    ]
    found.sort(key=lambda t: t.created_at, reverse=True)
    return json({"tasks": [{**task_body(t), "image_id": image.id} for t in found]})


def task_schema() -> dict[str, Any]:
    string = {"type": "string"}
    return {
        "name": "task",
        "properties": {
            "id": {"type": "string", "description": "An identifier for the task"},
            "type": {"type": "string", "enum": ["import"], "description": "The type of task"},
            "status": {"type": "string", "enum": ["pending", "processing", "success", "failure"]},
            "input": {"type": "object"}, "result": {"type": ["object", "null"]},
            "owner": string, "message": string, "expires_at": {"type": ["string", "null"]},
            "created_at": string, "updated_at": string, "self": string, "schema": string,
        },
    }  # fmt: skip


async def schema(request: web.Request) -> web.Response:
    await caller(request, "image:get_images", {"project_id": None})
    return json(task_schema())


async def schemas(request: web.Request) -> web.Response:
    await caller(request, "image:get_images", {"project_id": None})
    string = {"type": "string"}
    items = {"type": "array", "items": task_schema()}
    properties = {"tasks": items, "first": string, "next": string, "schema": string}
    return json({"name": "tasks", "properties": properties})
