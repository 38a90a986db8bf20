"""Typed keys of the compute service's application and request state."""

from __future__ import annotations

from aiohttp import web

from cairn.compute.config import ComputeConfig
from cairn.compute.image_documents import ImageDocuments
from cairn.compute.images import ImagePort
from cairn.compute.network_proxy import NetworkProxyPort
from cairn.compute.networks import NetworkPort, SecurityGroupPort
from cairn.compute.service import Compute
from cairn.compute.volume_documents import VolumeDocuments

COMPUTE: web.AppKey[Compute] = web.AppKey("compute", Compute)
COMPUTE_CONFIG: web.AppKey[ComputeConfig] = web.AppKey("compute_config", ComputeConfig)
#: the request's negotiated microversion, as (major, minor)
MICROVERSION: web.RequestKey[tuple[int, int]] = web.RequestKey("compute_microversion", tuple)
#: the image port to use instead of the image service's HTTP API (tests)
IMAGE_PORT: web.AppKey[ImagePort] = web.AppKey("compute_image_port", ImagePort)
#: the network port (the networking service of this process), wired by the composition root
NETWORK_PORT: web.AppKey[NetworkPort] = web.AppKey("compute_network_port", NetworkPort)
#: Nova's security-group proxy onto this process's networking, wired by the composition root
SECURITY_GROUPS: web.AppKey[SecurityGroupPort] = web.AppKey(
    "compute_security_groups", SecurityGroupPort
)
#: Nova's floating-IP and network proxies onto this process's networking (the root wires it)
NETWORK_PROXY: web.AppKey[NetworkProxyPort] = web.AppKey("compute_network_proxy", NetworkProxyPort)
#: the image service's documents for Nova's image proxy (the root wires it; none: 404)
IMAGE_DOCUMENTS: web.AppKey[ImageDocuments] = web.AppKey("compute_image_documents", ImageDocuments)
#: the block storage service's documents for Nova's volume proxy (the root wires it; none: 404)
VOLUME_DOCUMENTS: web.AppKey[VolumeDocuments] = web.AppKey(
    "compute_volume_documents", VolumeDocuments
)
