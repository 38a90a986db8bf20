"""What the block storage service is configured with.

The composition root builds :class:`VolumeConfig` from the settings. The
defaults describe the all-in-one: one file backend on this machine
(``<data-dir>/volumes``), named as Cinder names a backend's pool
(``host@backend#pool``), in the availability zone ``nova``.
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from pathlib import Path

#: Cinder's default quotas ([DEFAULT] quota_* of cinder.conf); -1 is no limit.
DEFAULT_QUOTAS: dict[str, int] = {
    "volumes": 10,
    "snapshots": 10,
    "gigabytes": 1000,
    "backups": 10,
    "backup_gigabytes": 1000,
    "groups": 10,
    "per_volume_gigabytes": -1,
}
#: the volume type every cloud has (Cinder's since Train)
DEFAULT_TYPE = "__DEFAULT__"
#: Cinder's own name for the file backend's driver
BACKEND = "file"


def default_backend_host() -> str:
    """This machine's backend, as Cinder writes ``os-vol-host-attr:host``."""
    name = socket.gethostname().split(".")[0] or "localhost"
    return f"{name}@{BACKEND}#{BACKEND}"


@dataclass(frozen=True, slots=True)
class VolumeConfig:
    #: volumes live in ``<data_dir>/volumes``
    data_dir: Path = Path(".")
    #: the cloud's URL, for the image service's API (imageRef lookups)
    public_url: str = "http://127.0.0.1:5000"
    quotas: dict[str, int] = field(default_factory=lambda: dict(DEFAULT_QUOTAS))
    availability_zone: str = "nova"
    backend_host: str = field(default_factory=default_backend_host)
    #: the file format of new volumes: ``qcow2`` (sparse, Cinder's NFS default) or ``raw``
    volume_format: str = "qcow2"
    #: how long the agent may take to make, extend or delete one volume (then: error)
    operation_timeout: float = 600.0
    #: how long a volume may stay creating, extending or deleting when no agent
    #: ends it (the sweeper's deadline; beyond the agent's own timeout)
    deadline: float = 900.0
    sweep_interval: float = 5.0
    #: items a listing returns at most without a ``limit`` (Cinder's osapi_max_limit)
    max_page: int = 1000
