"""Typed keys of the image service: its core and configuration on the root application."""

from __future__ import annotations

from aiohttp import web

from cairn.image.config import ImageConfig
from cairn.image.service import Images

#: Set by the image context; read by the image handlers.
IMAGES: web.AppKey[Images] = web.AppKey("images", Images)
#: Set by the composition root before the image context runs.
IMAGE_CONFIG: web.AppKey[ImageConfig] = web.AppKey("image_config", ImageConfig)
