"""The bootable default image, uploaded on the first start (CirrOS's "uec" form).

``scripts/build-guest-image`` builds a kernel (``vmlinuz``) and a busybox
initramfs (``initramfs.cpio.gz``) that boot under QEMU without KVM in seconds.
They become three public images owned by the admin project:

* ``cairn-guest-kernel`` — ``aki``, the kernel;
* ``cairn-guest-ramdisk`` — ``ari``, the initramfs;
* ``cairn-guest`` — a small empty qcow2 disk whose ``kernel_id`` and
  ``ramdisk_id`` name the other two: what a user boots.

Idempotent: when an active ``cairn-guest`` image exists, nothing happens. An
earlier start cut off half-way leaves images of these names that are not all
active: the three are made again, and the leftovers that are the cloud's own
(the admin project's) and not active are deleted. Active ones may be in use (a
kernel of a server) and other projects' are theirs: they stay, as does a
protected leftover (logged).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from cairn.events import Metadata
from cairn.events.image import ImageAttributes
from cairn.image import decide, qcow2
from cairn.image.errors import Forbidden
from cairn.image.service import Images
from cairn.logs import get_logger
from cairn.projections.identity import IdentityState

KERNEL_FILE = "vmlinuz"
RAMDISK_FILE = "initramfs.cpio.gz"
NAMES = ("cairn-guest-kernel", "cairn-guest-ramdisk", "cairn-guest")
DISK_SIZE = 64 * 1024 * 1024
CHUNK = 1024 * 1024
ADMIN_PROJECT = "admin"

log = get_logger(__name__)


async def _file_chunks(path: Path) -> AsyncIterator[bytes]:
    handle = await asyncio.to_thread(path.open, "rb")
    try:
        while chunk := await asyncio.to_thread(handle.read, CHUNK):
            yield chunk
    finally:
        handle.close()


async def _bytes(data: bytes) -> AsyncIterator[bytes]:
    yield data


async def ensure_default_image(images: Images, identity: IdentityState, guest_dir: Path) -> None:
    """Upload the guest in ``guest_dir`` as the default images, unless they exist."""
    ours = [i for i in images.state.images.values() if i.attributes.name in NAMES and
            i.attributes.visibility == "public"]  # fmt: skip
    if any(i.attributes.name == NAMES[2] and i.status == "active" for i in ours):
        return
    kernel, ramdisk = guest_dir / KERNEL_FILE, guest_dir / RAMDISK_FILE
    if not (kernel.is_file() and ramdisk.is_file()):
        log.warning(
            "no default image: the guest is not built (run scripts/build-guest-image)",
            guest_dir=str(guest_dir),
        )
        return
    owner = next((p.id for p in identity.projects.values() if p.name == ADMIN_PROJECT), None)
    meta = Metadata(request_id=f"cairn-up-default-image-{uuid.uuid4().hex[:8]}", project_id=owner)
    for leftover in ours:
        if leftover.owner != owner or owner is None or leftover.status == "active":
            continue
        try:
            await images.delete(leftover.id, meta)
        except Forbidden as exc:  # protected: not worth refusing to start for
            log.warning("default image leftover kept", image_id=leftover.id, reason=str(exc))
    kernel_id = await _upload(images, owner, meta, NAMES[0], "aki", "aki", {}, _file_chunks(kernel))
    ramdisk_id = await _upload(
        images, owner, meta, NAMES[1], "ari", "ari", {}, _file_chunks(ramdisk)
    )
    properties = {
        "kernel_id": kernel_id,
        "ramdisk_id": ramdisk_id,
        "os_distro": "cairn-busybox",
        "os_command_line": "console=ttyS0 quiet",
        "hw_serial_console": "true",
    }
    disk = _bytes(qcow2.empty_qcow2(DISK_SIZE))
    disk_id = await _upload(images, owner, meta, NAMES[2], "qcow2", "bare", properties, disk)
    log.info("default image uploaded", image_id=disk_id, kernel_id=kernel_id, ramdisk_id=ramdisk_id)


async def _upload(images: Images, owner: str | None, meta: Metadata, name: str, disk: str,
                  container: str, properties: dict[str, str],
                  chunks: AsyncIterator[bytes]) -> str:  # fmt: skip
    image_id = str(uuid.uuid4())
    attributes = ImageAttributes(
        name=name, disk_format=disk, container_format=container, visibility="public",
        properties=properties,
    )  # fmt: skip
    # The default image does not count against the admin project's quota.
    await images.run(decide.create(image_id, owner, attributes, decide.Limits(), meta))
    await images.upload(image_id, chunks, meta, limits=decide.Limits())
    return image_id
