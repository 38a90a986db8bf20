"""What every block storage handler shares: the caller, the core, domain errors
turned into Cinder's faults, and the checks of Cinder's request schemas."""

from __future__ import annotations

from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

from cairn.api.body import read_json
from cairn.api.faults import HTTPFault
from cairn.api.identity import caller as authenticated
from cairn.api.keys import REQUEST_ID
from cairn.api.volume.keys import VOLUMES
from cairn.app import CommandConflict
from cairn.events import Metadata
from cairn.volume.access import Caller
from cairn.volume.errors import VolumeError
from cairn.volume.service import Volumes

WRITER_ROLES = ("admin", "member")
MAX_NAME = 255
MAX_INT = 2**31 - 1


def volumes(request: web.Request) -> Volumes:
    return request.config_dict[VOLUMES]


def caller(request: web.Request, *, write: bool = False, admin: bool = False) -> Caller:
    """The authenticated caller. Cinder's URLs may carry a project id: it must be
    the token's. A write needs the member role, an admin action the admin role."""
    who = authenticated(request)
    roles = who.credentials.roles
    is_admin = "admin" in roles
    if who.project_id is None:
        raise HTTPFault(403, "A project-scoped token is required for block storage requests.")
    in_url = request.match_info.get("project_id")
    if in_url is not None and in_url != who.project_id:
        raise HTTPFault.bad_request("Malformed request url")
    if admin and not is_admin:
        raise HTTPFault(403, "Policy doesn't allow this action to be performed.")
    if write and not any(role in roles for role in WRITER_ROLES):
        raise HTTPFault(403, "Policy doesn't allow this action to be performed.")
    return Caller(project_id=who.project_id, user_id=who.user_id, is_admin=is_admin)


def metadata(request: web.Request) -> Metadata:
    return authenticated(request).metadata(request.get(REQUEST_ID))


def token(request: web.Request) -> str:
    return request.headers.get("X-Auth-Token", "")


@web.middleware
async def volume_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Domain errors become faults here, at the edge, and nowhere else."""
    try:
        return await handler(request)
    except VolumeError as exc:
        raise HTTPFault(exc.status, str(exc)) from None
    except CommandConflict:
        raise HTTPFault.conflict(
            "Concurrent requests kept changing this resource; try again."
        ) from None


async def body_of(request: web.Request, key: str) -> dict[str, Any]:
    """The object under ``key`` of a JSON body, or a 400 as Cinder words it."""
    document = await read_json(request)
    if not isinstance(document, dict) or not isinstance(document.get(key), dict):
        raise HTTPFault.bad_request(f"Missing required element '{key}' in request body.")
    found: dict[str, Any] = document[key]
    return found


def bad(message: str) -> HTTPFault:
    return HTTPFault.bad_request(f"Invalid input received: {message}")


def text(value: Any, field: str, *, limit: int = MAX_NAME, nullable: bool = True) -> str | None:
    if value is None and nullable:
        return None
    if not isinstance(value, str):
        raise bad(f"{field} must be a string.")
    if len(value) > limit:
        raise bad(f"{field} has more than {limit} characters.")
    return value


def size(value: Any, field: str = "size") -> int:
    """Cinder's ``volume_size``: an integer (or a string of digits) of at least 1."""
    if isinstance(value, bool):
        raise bad(f"'{field}' must be an integer, not {value!r}.")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int):
        raise bad(
            f"Invalid input for field/attribute {field}. Value: {value!r}. It must be an integer."
        )
    if not 1 <= value <= MAX_INT:
        raise bad(
            f"Invalid input for field/attribute {field}. Value: {value}. "
            f"It must be between 1 and {MAX_INT}."
        )
    return value


def boolean(value: Any, field: str) -> bool:
    """Cinder's lenient booleans: true/false, and their strings (``"True"``, ``"1"``...)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in ("true", "1", "yes", "y", "on", "t"):
            return True
        if lowered in ("false", "0", "no", "n", "off", "f"):
            return False
    raise bad(f"{field} must be a boolean, not {value!r}.")


def metadata_dict(value: Any, field: str = "metadata") -> dict[str, str]:
    """Cinder's metadata: string keys of 1-255 characters, string values of at most 255."""
    if not isinstance(value, dict):
        raise bad(f"{field} must be an object of strings.")
    for key, item in value.items():
        if not isinstance(key, str) or not 1 <= len(key) <= MAX_NAME:
            raise bad(f"{field} keys must be strings of 1 to {MAX_NAME} characters.")
        if not isinstance(item, str) or len(item) > MAX_NAME:
            raise bad(f"{field} values must be strings of at most {MAX_NAME} characters.")
    return dict(value)


def links(request: web.Request, collection: str, ident: str) -> list[dict[str, str]]:
    base = f"{request.url.origin()}/volume"
    project = request.match_info.get("project_id")
    scoped = f"/{project}" if project else ""
    return [
        {"href": f"{base}/v3{scoped}/{collection}/{ident}", "rel": "self"},
        {"href": f"{base}{scoped}/{collection}/{ident}", "rel": "bookmark"},
    ]
