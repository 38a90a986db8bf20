"""Nova's image proxy: ``/images`` (before 2.36) and ``/images/{id}/metadata``
(before 2.39), in Nova's shapes, on the image service's documents.

Nova translates Glance's statuses (``queued`` and ``saving`` are ``SAVING``,
``killed`` is ``ERROR``) and shows an image's properties as its ``metadata``,
counted against the project's ``metadata_items`` quota. Filters (``name``,
``status``, ``changes-since``, ``server``, ``type``, ``minRam``, ``minDisk``)
are applied here to what the caller may see, then the listing is paged.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aiohttp import web

from cairn.api.body import read_json
from cairn.api.compute.auth import authorize, project_of
from cairn.api.compute.common import compute, json, next_link, page, v, whole
from cairn.api.compute.keys import IMAGE_DOCUMENTS
from cairn.api.compute.views import base_url
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller
from cairn.compute import quota
from cairn.compute.errors import QuotaExceeded
from cairn.compute.image_documents import Document, ImageDocuments, properties

IMAGES_MAX = (2, 35)
METADATA_MAX = (2, 38)
STATUS = {
    "active": "ACTIVE",
    "queued": "SAVING",
    "saving": "SAVING",
    "uploading": "SAVING",
    "importing": "SAVING",
    "killed": "ERROR",
    "deleted": "DELETED",
    "pending_delete": "DELETED",
    "deactivated": "ERROR",
}
PROGRESS = {"queued": 25, "saving": 50, "active": 100}


def _port(request: web.Request, newest: tuple[int, int]) -> ImageDocuments:
    found = request.config_dict.get(IMAGE_DOCUMENTS)
    if found is None or v(request) > newest:
        raise HTTPFault.not_found("The resource could not be found.")
    return found


def _token(request: web.Request) -> str:
    """The caller's own token: the image service applies its visibility rules."""
    return request.headers.get("X-Auth-Token", "")


def _links(request: web.Request, image_id: str) -> list[dict[str, str]]:
    base = base_url(request)
    return [
        {"rel": "self", "href": f"{base}/v2.1/images/{image_id}"},
        {"rel": "bookmark", "href": f"{base}/images/{image_id}"},
        {
            "rel": "alternate",
            "type": "application/vnd.openstack.image",
            "href": f"{request.url.origin()}/image/images/{image_id}",
        },
    ]


def _basic(request: web.Request, image: Document) -> dict[str, Any]:
    return {"id": image["id"], "name": image.get("name"), "links": _links(request, image["id"])}


def _when(text: Any) -> Any:
    return text.replace("+00:00", "Z") if isinstance(text, str) else text


def _detail(request: web.Request, image: Document) -> dict[str, Any]:
    metadata = properties(image)
    status = str(image.get("status") or "")
    view: dict[str, Any] = {
        **_basic(request, image),
        "minRam": int(image.get("min_ram") or 0),
        "minDisk": int(image.get("min_disk") or 0),
        "metadata": metadata,
        "created": _when(image.get("created_at")),
        "updated": _when(image.get("updated_at")),
        "status": STATUS.get(status, "UNKNOWN"),
        "progress": PROGRESS.get(status, 0),
        "OS-EXT-IMG-SIZE:size": image.get("size"),
    }
    server = metadata.get("instance_uuid")
    if server:
        base = base_url(request)
        view["server"] = {
            "id": server,
            "links": [
                {"rel": "self", "href": f"{base}/v2.1/servers/{server}"},
                {"rel": "bookmark", "href": f"{base}/servers/{server}"},
            ],
        }
    return view


def _since(raw: str) -> datetime:
    try:
        return datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError:
        raise HTTPFault.bad_request(f"Invalid filter field: changes-since ({raw!r}).") from None


def _minimum(query: Any, key: str) -> int:
    value = whole(query.get(key, "0"))
    if not isinstance(value, int) or value < 0:
        raise HTTPFault.bad_request(f"Invalid {key} filter [{query.get(key)}]")
    return value


def _matches(query: Any, image: Document, metadata: dict[str, str]) -> bool:
    if "name" in query and image.get("name") != query["name"]:
        return False
    if "status" in query and STATUS.get(str(image.get("status"))) != query["status"].upper():
        return False
    if "server" in query and metadata.get("instance_uuid") != query["server"].rsplit("/", 1)[-1]:
        return False
    if "type" in query and metadata.get("image_type") != query["type"]:
        return False
    if int(image.get("min_ram") or 0) < _minimum(query, "minRam"):
        return False
    if int(image.get("min_disk") or 0) < _minimum(query, "minDisk"):
        return False
    if "changes-since" in query:
        updated = image.get("updated_at")
        if not isinstance(updated, str) or _since(updated) < _since(query["changes-since"]):
            return False
    return True


async def _listing(request: web.Request, *, detail: bool) -> web.Response:
    port = _port(request, IMAGES_MAX)
    await authorize(request, "os_compute_api:image-proxy:list")
    query = request.query
    for key in ("minRam", "minDisk"):
        _minimum(query, key)
    if "changes-since" in query:
        _since(query["changes-since"])
    found = [i for i in await port.list(_token(request)) if _matches(query, i, properties(i))]
    chosen, more = page(request, found, lambda i: str(i["id"]))
    view = _detail if detail else _basic
    body: dict[str, Any] = {"images": [view(request, i) for i in chosen]}
    if more:
        body["images_links"] = next_link(
            request, "images/detail" if detail else "images", str(chosen[-1]["id"])
        )
    return json(body)


async def list_images(request: web.Request) -> web.Response:
    return await _listing(request, detail=False)


async def list_images_detail(request: web.Request) -> web.Response:
    return await _listing(request, detail=True)


async def show_image(request: web.Request) -> web.Response:
    port = _port(request, IMAGES_MAX)
    await authorize(request, "os_compute_api:image-proxy:show")
    image = await port.show(_token(request), request.match_info["image_id"])
    return json({"image": _detail(request, image)})


async def delete_image(request: web.Request) -> web.Response:
    port = _port(request, IMAGES_MAX)
    await authorize(request, "os_compute_api:image-proxy:delete")
    await port.delete(_token(request), request.match_info["image_id"])
    return web.Response(status=204)


# -- metadata ----------------------------------------------------------------------------


def _items(body: Any, root: str) -> dict[str, str]:
    if not isinstance(body, dict) or not isinstance(body.get(root), dict) or len(body) != 1:
        raise HTTPFault.bad_request(f"Invalid input: '{root}' is a required property")
    items: dict[str, str] = {}
    for key, value in body[root].items():
        if not 1 <= len(key) <= 255:
            raise HTTPFault.bad_request(
                f"Invalid input for field/attribute {root}. Value: {key}. "
                "Keys are 1 to 255 characters"
            )
        if not isinstance(value, str) or len(value) > 255:
            raise HTTPFault.bad_request(
                f"Invalid input for field/attribute {key}. Value: {value}. "
                "Values are strings of at most 255 characters"
            )
        items[key] = value
    return items


def _within_quota(request: web.Request, count: int) -> None:
    who = caller(request)
    limit = quota.limits(compute(request).state, project_of(who))["metadata_items"]
    if limit != quota.UNLIMITED and count > limit:
        raise QuotaExceeded(
            f"Quota exceeded for metadata_items: Maximum number of metadata items exceeds {limit}",
            ("metadata_items",),
        )


async def _image_metadata(request: web.Request, rule: str) -> tuple[ImageDocuments, dict[str, str]]:
    port = _port(request, METADATA_MAX)
    await authorize(request, f"os_compute_api:image-metadata:{rule}")
    image = await port.show(_token(request), request.match_info["image_id"])
    return port, properties(image)


async def list_metadata(request: web.Request) -> web.Response:
    _, metadata = await _image_metadata(request, "index")
    return json({"metadata": metadata})


async def _change(
    request: web.Request, port: ImageDocuments, changes: dict[str, str | None]
) -> dict[str, str]:
    image = await port.change_properties(_token(request), request.match_info["image_id"], changes)
    return properties(image)


async def merge_metadata(request: web.Request) -> web.Response:
    port, current = await _image_metadata(request, "create")
    items = _items(await read_json(request), "metadata")
    _within_quota(request, len(current | items))
    return json({"metadata": await _change(request, port, dict(items))})


async def replace_metadata(request: web.Request) -> web.Response:
    port, current = await _image_metadata(request, "update_all")
    items = _items(await read_json(request), "metadata")
    _within_quota(request, len(items))
    changes: dict[str, str | None] = {k: None for k in current if k not in items}
    changes.update(items)
    return json({"metadata": await _change(request, port, changes)})


async def show_metadata_item(request: web.Request) -> web.Response:
    _, metadata = await _image_metadata(request, "show")
    key = request.match_info["key"]
    if key not in metadata:
        raise HTTPFault.not_found("Image not found.")
    return json({"meta": {key: metadata[key]}})


async def put_metadata_item(request: web.Request) -> web.Response:
    port, current = await _image_metadata(request, "update")
    key = request.match_info["key"]
    items = _items(await read_json(request), "meta")
    if list(items) != [key]:
        raise HTTPFault.bad_request("Request body and URI mismatch")
    _within_quota(request, len(current | items))
    metadata = await _change(request, port, dict(items))
    return json({"meta": {key: metadata[key]}})


async def delete_metadata_item(request: web.Request) -> web.Response:
    port, current = await _image_metadata(request, "delete")
    key = request.match_info["key"]
    if key not in current:
        raise HTTPFault.not_found("Image not found.")
    await _change(request, port, {key: None})
    return web.Response(status=204)
