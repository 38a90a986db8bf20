"""What every image handler needs: the core, the caller's project and role, and
the image the caller asked for (a 404 when the caller cannot see it)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import msgspec
from aiohttp import web

from cairn.api.faults import HTTPFault
from cairn.api.identity import authorize
from cairn.api.identity.auth import metadata
from cairn.api.identity.keys import IDENTITY
from cairn.api.image.keys import IMAGES
from cairn.events import Metadata
from cairn.identity.service import Authenticated
from cairn.image import rules
from cairn.image.service import Images
from cairn.projections.image import Image

_encoder = msgspec.json.Encoder()
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")


def images(request: web.Request) -> Images:
    return request.config_dict[IMAGES]


def json(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=_encoder.encode(body), status=status, headers=headers, content_type="application/json"
    )


@dataclass(frozen=True, slots=True)
class Caller:
    """Who is asking: the token's project (``None`` when not project-scoped) and
    whether it holds the admin role."""

    who: Authenticated
    project: str | None
    admin: bool
    meta: Metadata


async def caller(request: web.Request, rule: str, target: dict[str, Any] | None = None) -> Caller:
    """The caller, once the policy allows ``rule`` (401 or 403 otherwise)."""
    who = await authorize(request, rule, target or {})
    admin = request.config_dict[IDENTITY].allowed("admin_required", who, {})
    return Caller(who, who.project_id, admin, metadata(request))


async def require(request: web.Request, rule: str, target: dict[str, Any]) -> None:
    """A second policy check, once the target (the image's owner) is known."""
    await authorize(request, rule, target)


def image_id(request: web.Request) -> str:
    value = request.match_info["image_id"]
    if not _UUID.match(value):
        raise HTTPFault.not_found(f"No image found with ID {value}")
    return value.lower()


def visible_image(request: web.Request, who: Caller) -> Image:
    """The image of the path, if ``who`` may see it; else a 404, as for a missing one."""
    ident = image_id(request)
    image = images(request).state.images.get(ident)
    if image is None or not rules.can_see(image, who.project, who.admin):
        raise HTTPFault.not_found(f"No image found with ID {ident}")
    return image


def owned_image(request: web.Request, who: Caller, action: str) -> Image:
    """The image of the path, if ``who`` may change it: 404 when unseen, 403 when
    seen but not its owner's (nor an admin)."""
    image = visible_image(request, who)
    if not rules.can_modify(image, who.project, who.admin):
        raise HTTPFault(403, f"You are not permitted to {action} image {image.id}.")
    return image
