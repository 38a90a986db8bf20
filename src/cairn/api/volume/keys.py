"""Typed keys of the block storage service on the root application."""

from __future__ import annotations

from aiohttp import web

from cairn.volume.config import VolumeConfig
from cairn.volume.images import ImageLookup
from cairn.volume.service import Volumes

#: Set by the volume context; read by the handlers.
VOLUMES: web.AppKey[Volumes] = web.AppKey("volumes", Volumes)
#: Set by the composition root before the volume context runs.
VOLUME_CONFIG: web.AppKey[VolumeConfig] = web.AppKey("volume_config", VolumeConfig)
#: How the API looks images up (``imageRef``); the context makes a Glance one when unset.
IMAGE_LOOKUP: web.AppKey[ImageLookup] = web.AppKey("volume_image_lookup", ImageLookup)
#: The negotiated microversion of a request, as (3, minor).
MICROVERSION: web.RequestKey[tuple[int, int]] = web.RequestKey("volume_microversion", tuple)
