"""Folding compute events into state without a store: what projection, scheduler
and sweeper tests start from."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from cairn.compute.scheduler import SchedulerConfig, plan
from cairn.events import DomainEvent, RecordedEvent, registry
from cairn.events import compute as ev
from cairn.projections.compute import ComputeProjection, ComputeState
from cairn.store.port import StreamWrite

NOW = 1_800_000_000.0
NANO = ev.FlavorSnapshot(flavor_id="42", name="m1.nano", vcpus=1, ram_mb=128, disk_gb=1)
IMAGE = ev.ImageSnapshot(image_id="img", properties={})


class Log:
    """Folds events into a compute state, as the read model would."""

    def __init__(self) -> None:
        self.projection = ComputeProjection()
        self.state: ComputeState = self.projection.initial()
        self.versions: dict[str, int] = {}
        self.position = 0

    def add(self, stream: str, event: DomainEvent, at: float = NOW) -> None:
        self.position += 1
        version = self.versions[stream] = self.versions.get(stream, 0) + 1
        new = registry.new(event)
        recorded = RecordedEvent(
            new.id, stream, version, self.position, new.type, new.schema_version,
            datetime.fromtimestamp(at, UTC), new.data, b"{}", b"", b"",
        )  # fmt: skip
        self.state = self.projection.apply(self.state, recorded)

    def host(self, name: str, *, memory_mb: int = 1024, vcpus: int = 4, zone: str = "nova",
             architecture: str = "x86_64", at: float = NOW) -> None:  # fmt: skip
        self.add(f"computehost-{name}", ev.ComputeHostRegistered(
            host=name, hypervisor_type="QEMU", hypervisor_version=1, hypervisor_uri="x",
            availability_zone=zone, architecture=architecture,
            capacity=ev.ResourceAmounts(vcpus=vcpus, memory_mb=memory_mb, disk_gb=100),
            cpu_allocation_ratio=1.0, heartbeat_interval=10.0,
        ), at)  # fmt: skip

    def boot(self, **changes: Any) -> str:
        server_id = str(uuid.uuid4())
        fields: dict[str, Any] = {
            "server_id": server_id, "project_id": "p", "user_id": "u", "name": "vm",
            "flavor": NANO, "image": IMAGE, "created_at": "",
        }  # fmt: skip
        fields.update(changes)
        self.add(f"server-{server_id}", ev.ServerCreateRequested(**fields))
        return server_id

    def apply_plan(self, config: SchedulerConfig | None = None) -> dict[str, str]:
        """Plan, fold the plan's events back in, and return server -> host."""
        result = plan(self.state, config or SchedulerConfig(), NOW)
        for write in result.writes():
            for new in write.events:
                self.add(write.stream, registry.decode(RecordedEvent(
                    new.id, write.stream, 0, 0, new.type, new.schema_version,
                    datetime.now(UTC), new.data, b"{}", b"", b"",
                )))  # fmt: skip
        return dict(result.placed)

    def fold(self, writes: list[StreamWrite], at: float = NOW) -> None:
        """Fold a decider's writes, as if appended at ``at``."""
        for write in writes:
            for new in write.events:
                self.add(write.stream, registry.decode(RecordedEvent(
                    new.id, write.stream, 0, 0, new.type, new.schema_version,
                    datetime.now(UTC), new.data, b"{}", b"", b"",
                )), at)  # fmt: skip
