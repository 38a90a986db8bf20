"""From a boot request to a :class:`GuestDefinition`: images, disks, names, paths.

As Nova's libvirt driver does, an image whose properties name a ``kernel_id``
(and a ``ramdisk_id``) boots directly from those images' data, with the
``os_command_line`` property as the kernel's command line; a kernel (``aki``)
image booted by itself is its own kernel. The image's own data,
if it has any, becomes the root disk: a qcow2 overlay of the cached image,
sized by the flavor's disk. A kernel-booted image without data gets a blank
root disk of the flavor's size, or none when the flavor has no disk.

Each server has a directory of its own on the host
(``<host dir>/instances/<server id>``) holding its overlay and its console log;
the agent removes it when the server is deleted or its spawn fails.
"""

from __future__ import annotations

import asyncio
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from cairn.agents.compute import disk
from cairn.agents.compute.driver import GuestDefinition, RootDisk
from cairn.agents.compute.images import CachedImage, ImageCache, ImageError
from cairn.events import compute as ev

#: Domains of this agent are named ``cairn-<host>-<server id>``.
NAME_PREFIX = "cairn-"
DEFAULT_CMDLINE = "console=ttyS0"
#: Disk formats a qcow2 overlay can sit on; Glance's ``ami`` is raw data.
BACKING_FORMATS = {"qcow2": "qcow2", "raw": "raw", "ami": "raw", "img": "raw"}
_NAMESPACE = uuid.UUID("6f1c1d9e-7d43-4f4e-9a51-2c4b7f6f3a10")


def guest_name(host: str, server_id: str) -> str:
    return f"{NAME_PREFIX}{host}-{server_id}"


def server_of(host: str, name: str) -> str | None:
    """The server id of this host's guest ``name``; None for anyone else's guest."""
    prefix = f"{NAME_PREFIX}{host}-"
    if not name.startswith(prefix):
        return None
    rest = name[len(prefix) :]
    if len(rest) != 36:
        return None  # another host whose name starts like ours ("a" and "a-1")
    try:
        uuid.UUID(rest)
    except ValueError:
        return None
    return rest


def guest_uuid(host: str, server_id: str) -> uuid.UUID:
    """The domain's uuid: stable for a server on a host, distinct across hosts."""
    return uuid.uuid5(_NAMESPACE, f"{host}/{server_id}")


@dataclass(frozen=True)
class HostPaths:
    """Where one host keeps its files: ``<data-dir>/compute/<host>``."""

    root: Path

    @property
    def images(self) -> Path:
        return self.root / "images"

    @property
    def instances(self) -> Path:
        return self.root / "instances"

    def instance(self, server_id: str) -> Path:
        if not server_id or "/" in server_id or server_id.startswith("."):
            # The directory is removed with the server: never let an id name another.
            raise ValueError(f"{server_id!r} is not a server id")
        return self.instances / server_id

    def console_log(self, server_id: str) -> Path:
        return self.instance(server_id) / "console.log"


async def remove_instance_dir(paths: HostPaths, server_id: str) -> None:
    await asyncio.to_thread(shutil.rmtree, paths.instance(server_id), True)


async def plan_guest(
    host: str,
    paths: HostPaths,
    images: ImageCache,
    request: ev.ServerCreateRequested,
    *,
    boot_disk: RootDisk | None = None,
) -> GuestDefinition:
    """Fetch the images ``request`` needs and describe its guest. Creates the
    server's directory, and a blank root disk when the image has no data.

    ``boot_disk`` is a volume-backed server's root disk (its boot volume): no
    image is fetched then but the kernel and ramdisk its image properties name
    (the volume's ``volume_image_metadata``)."""
    server_id = request.server_id
    properties = dict(request.image.properties)
    image = None
    if boot_disk is None:
        image = await images.fetch(request.image.image_id)
        properties = {**image.info.properties, **properties}
    kernel_id, ramdisk_id = properties.get("kernel_id"), properties.get("ramdisk_id")
    kernel = await images.fetch(kernel_id) if kernel_id else None
    ramdisk = await images.fetch(ramdisk_id) if ramdisk_id else None
    if image is not None and kernel is None and image.info.disk_format == "aki":
        kernel = image  # a kernel image booted by itself (with its ramdisk_id, if any)
    if image is not None and image.info.disk_format == "ari":
        raise ImageError(f"image {image.info.id} is a ramdisk (ari) image: not bootable")

    instance = paths.instance(server_id)
    await asyncio.to_thread(instance.mkdir, parents=True, exist_ok=True)
    flavor = request.flavor
    size_gb = flavor.disk_gb or None
    root = boot_disk
    if image is not None:
        root = await _root_disk(instance, image, size_gb, kernel_booted=kernel is not None)
    return GuestDefinition(
        name=guest_name(host, server_id),
        uuid=guest_uuid(host, server_id),
        vcpus=flavor.vcpus,
        memory_mib=flavor.ram_mb,
        console_log=paths.console_log(server_id),
        root_disk=root,
        kernel=kernel.path if kernel else None,
        initramfs=ramdisk.path if ramdisk else None,
        cmdline=properties.get("os_command_line") or DEFAULT_CMDLINE,
    )


async def _root_disk(
    instance: Path, image: CachedImage, size_gb: int | None, *, kernel_booted: bool
) -> RootDisk | None:
    path = instance / "disk"
    has_data = (image.info.size or 0) > 0 and image.info.disk_format not in ("aki", "ari")
    if has_data:
        backing_format = BACKING_FORMATS.get(image.info.disk_format)
        if backing_format is None:
            raise ImageError(
                f"image {image.info.id} has disk format {image.info.disk_format!r}; "
                f"the agent boots {', '.join(sorted(BACKING_FORMATS))}"
            )
        return RootDisk(
            path=path, backing=image.path, size_gb=size_gb, backing_format=backing_format
        )
    if not kernel_booted:
        raise ImageError(f"image {image.info.id} has no data and no kernel_id: nothing to boot")
    if size_gb is None:
        return None
    if not await asyncio.to_thread(path.exists):
        await disk.create(path, size_gb=size_gb)
    return RootDisk(path=path)
