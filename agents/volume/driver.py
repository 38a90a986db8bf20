"""The volume driver port: what a storage backend does for the volume agent.

Every method is idempotent in the way the agent needs after a crash: a create
whose volume already exists completely returns at once, a delete of what is
not there succeeds. A failing create or snapshot leaves nothing under the
volume's (or snapshot's) name: data is written under a temporary name and
renamed into place only when complete. Errors::

    VolumeDriverError      the backend could not do it (the message says why)
    └── SourceMissing      the snapshot or volume to copy from is not there

Adapters: :class:`cairn.agents.volume.file_driver.FileVolumeDriver`, files made
with ``qemu-img`` in a directory, in ``qcow2`` (sparse, the default) or ``raw``
format. Both formats pass one contract suite (``tests/volume/test_file_driver.py``).
"""

from __future__ import annotations

import abc
from pathlib import Path

from cairn.errors import CairnError

GIB = 1024**3


class VolumeDriverError(CairnError):
    """The backend failed; nothing half-made is left under the target's name."""


class SourceMissing(VolumeDriverError):
    """The snapshot, volume or image data to copy from does not exist."""


class VolumeDriver(abc.ABC):
    #: the file format volumes are made in (``qcow2``, ``raw``)
    format: str
    #: the driver's name, as Cinder's ``volume_backend_name``
    name: str

    def export_path(self) -> str:
        """Where a host that shares the backend's files finds its pool (a volume
        is ``<export_path>/volume-<id>`` there): the connection info the volume
        service gives compute hosts. "" when the backend exports volumes otherwise."""
        return ""

    @abc.abstractmethod
    async def describe(self) -> tuple[str, float, float]:
        """The driver's version, and the pool's total and free capacity in GiB."""

    @abc.abstractmethod
    async def create_empty(self, volume_id: str, size_gb: int) -> int:
        """Make an empty volume of ``size_gb`` GiB; return the bytes it takes on disk."""

    @abc.abstractmethod
    async def create_from_file(
        self, volume_id: str, source: Path, source_format: str, size_gb: int
    ) -> int:
        """Make a volume of ``size_gb`` GiB holding the disk image ``source``
        (in ``source_format``: qcow2, raw, vmdk, ...), converted to the volume's format."""

    @abc.abstractmethod
    async def create_from_snapshot(self, volume_id: str, snapshot_id: str, size_gb: int) -> int:
        """Make a volume of ``size_gb`` GiB holding a snapshot's data."""

    @abc.abstractmethod
    async def clone(self, volume_id: str, source_volume_id: str, size_gb: int) -> int:
        """Make a volume of ``size_gb`` GiB holding another volume's data."""

    @abc.abstractmethod
    async def extend(self, volume_id: str, size_gb: int) -> None:
        """Grow a volume to ``size_gb`` GiB (never shrinks)."""

    @abc.abstractmethod
    async def export(self, volume_id: str, disk_format: str, dest: Path) -> None:
        """Write the volume's data to ``dest`` as a ``disk_format`` image (an upload)."""

    @abc.abstractmethod
    async def delete(self, volume_id: str) -> None:
        """Remove a volume; nothing to remove is success."""

    @abc.abstractmethod
    async def create_snapshot(self, snapshot_id: str, volume_id: str) -> None:
        """Keep the volume's data as it is now under ``snapshot_id``."""

    @abc.abstractmethod
    async def delete_snapshot(self, snapshot_id: str) -> None:
        """Remove a snapshot; nothing to remove is success."""

    @abc.abstractmethod
    async def backup(
        self, backup_id: str, volume_id: str, parent_id: str | None, snapshot_id: str | None = None
    ) -> None:
        """Keep the volume's data (or its snapshot's) as backup ``backup_id``: all of
        it, or (``parent_id``) only what differs from that earlier backup."""

    @abc.abstractmethod
    async def restore(self, backup_id: str, volume_id: str, size_gb: int) -> None:
        """Replace the volume's data with the backup's (the volume keeps its size);
        ``volume_id`` need not exist yet (a new volume from a backup)."""

    @abc.abstractmethod
    async def has_backup(self, backup_id: str) -> bool:
        """Whether the backend holds backup ``backup_id``'s data."""

    @abc.abstractmethod
    async def delete_backup(self, backup_id: str) -> None:
        """Remove a backup; nothing to remove is success."""

    @abc.abstractmethod
    async def exists(self, volume_id: str) -> bool:
        """Whether the volume is there, complete."""

    @abc.abstractmethod
    async def size_of(self, volume_id: str) -> int:
        """The volume's virtual size in bytes (raises when it is not there)."""

    @abc.abstractmethod
    async def inventory(self) -> tuple[set[str], set[str]]:
        """The ids of every volume and every snapshot the backend holds."""

    @abc.abstractmethod
    def path(self, volume_id: str) -> Path:
        """Where a volume's data is (for a hypervisor to attach it)."""
