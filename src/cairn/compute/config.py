"""What the compute control plane is configured with (built by the composition root)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True, slots=True)
class ComputeConfig:
    #: the cloud's base URL (``http://host:port``): the image service is under it
    public_url: str
    scheduler_strategy: str = "spread"
    scheduler_max_attempts: int = 3
    #: seconds a server may stay in a transitional state
    deadline: float = 600.0
    #: the most items one page of a listing holds (Nova's ``[api] max_limit``)
    max_limit: int = 1000
    #: how often the deadline sweeper (and the reclaimer) looks
    sweep_interval: float = 5.0
    #: seconds a deleted server stays SOFT_DELETED before it is reclaimed; 0: no
    #: soft delete (Nova's ``reclaim_instance_interval``)
    reclaim_interval: float = 0.0
    #: seconds a SHELVED server keeps its host before it is offloaded: 0 at
    #: once, -1 never (Nova's ``shelved_offload_time``)
    shelved_offload_time: float = 0.0
    #: seconds a resize waits in VERIFY_RESIZE before it is confirmed for its
    #: owner; 0: never (Nova's ``resize_confirm_window``)
    resize_confirm_window: float = 0.0
    #: whether this process runs the scheduler and the sweeper (every API
    #: process may: their appends are checked against each other)
    run_scheduler: bool = True
    #: the key repository sealing guests' passwords for their agents
    #: (``<data-dir>/guest-secret-keys``); None: a key of this process's own
    guest_secret_keys: Path | None = None
