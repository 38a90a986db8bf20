"""The volume projection and the agent's choice of step: events in, state out, no store."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from cairn.agents.volume.agent import Step, next_step
from cairn.events import DomainEvent, RecordedEvent, registry
from cairn.events import volume as ev
from cairn.projections.volume import VolumeProjection, VolumeState
from cairn.volume import quota, scheduler


class Log:
    def __init__(self) -> None:
        self.projection = VolumeProjection()
        self.state: VolumeState = self.projection.initial()
        self.versions: dict[str, int] = {}
        self.position = 0

    def add(self, stream: str, event: DomainEvent) -> None:
        self.position += 1
        version = self.versions[stream] = self.versions.get(stream, 0) + 1
        new = registry.new(event)
        recorded = RecordedEvent(
            new.id,
            stream,
            version,
            self.position,
            new.type,
            new.schema_version,
            datetime.fromtimestamp(1_800_000_000 + self.position, UTC),
            new.data,
            b"{}",
            b"",
            b"",
        )
        self.state = self.projection.apply(self.state, recorded)


def requested(volume_id: str, size: int = 1, **extra: Any) -> ev.VolumeCreateRequested:
    return ev.VolumeCreateRequested(
        volume_id=volume_id,
        project_id="p",
        user_id="u",
        name=None,
        description=None,
        size=size,
        volume_type_id="t",
        volume_type="__DEFAULT__",
        availability_zone="nova",
        host="h@file#file",
        **extra,
    )


def test_a_volume_moves_only_with_its_outcomes() -> None:
    log = Log()
    log.add("volume-v", requested("v", 2))
    volume = log.state.volumes["v"]
    assert (volume.status, volume.pending) == ("creating", "create")
    assert next_step(volume, []) == (Step.CREATE, None)
    log.add("volume-v", ev.VolumeCreated(volume_id="v", host="h@file#file"))
    assert (volume.status, volume.pending) == ("available", "")
    assert next_step(volume, []) == (Step.NOTHING, None)
    log.add(
        "volume-v",
        ev.VolumeExtendRequested(volume_id="v", project_id="p", new_size=5, previous_size=2),
    )
    assert quota.usage(log.state, "p").gigabytes == 5  # an extending volume counts at its new size
    log.add("volume-v", ev.VolumeExtendFailed(volume_id="v", reason="disk full"))
    assert (volume.status, volume.size, volume.reason) == ("error_extending", 2, "disk full")
    # an admin's reset is only a status: the agent owes nothing for it
    log.add("volume-v", ev.VolumeStatusReset(volume_id="v", status="deleting"))
    assert next_step(volume, []) == (Step.NOTHING, None)
    log.add("volume-v", ev.VolumeDeleteRequested(volume_id="v", project_id="p"))
    assert next_step(volume, []) == (Step.DELETE, None)
    log.add("volume-v", ev.VolumeDeleted(volume_id="v", project_id="p"))
    assert "v" not in log.state.volumes
    assert quota.usage(log.state, "p").volumes == 0


def test_snapshots_go_before_their_volume() -> None:
    log = Log()
    log.add("volume-v", requested("v"))
    log.add("volume-v", ev.VolumeCreated(volume_id="v", host="h@file#file"))
    for sid in ("s1", "s2"):
        log.add(
            f"volsnapshot-{sid}",
            ev.SnapshotCreateRequested(
                snapshot_id=sid,
                volume_id="v",
                project_id="p",
                user_id="u",
                name=None,
                description=None,
                size=1,
            ),
        )
    volume = log.state.volumes["v"]
    step, snapshot = next_step(volume, log.state.snapshots_of("v"))
    assert (step, snapshot and snapshot.id) == (Step.SNAPSHOT, "s1")
    for sid in ("s1", "s2"):
        log.add(f"volsnapshot-{sid}", ev.SnapshotCreated(snapshot_id=sid))
        log.add(f"volsnapshot-{sid}", ev.SnapshotDeleteRequested(snapshot_id=sid, project_id="p"))
    log.add("volume-v", ev.VolumeDeleteRequested(volume_id="v", project_id="p", cascade=True))
    assert next_step(volume, log.state.snapshots_of("v"))[0] is Step.DELETE_SNAPSHOT
    for sid in ("s1", "s2"):
        log.add(f"volsnapshot-{sid}", ev.SnapshotDeleted(snapshot_id=sid, project_id="p"))
    assert next_step(volume, log.state.snapshots_of("v")) == (Step.DELETE, None)
    assert quota.usage(log.state, "p").gigabytes == 1


def test_the_scheduler_matches_capabilities() -> None:
    log = Log()
    log.add(
        "volbackend-h",
        ev.VolumeBackendRegistered(
            host="h@file#file",
            availability_zone="nova",
            driver="file",
            driver_version="q",
            volume_format="qcow2",
            total_capacity_gb=10,
            free_capacity_gb=5,
            heartbeat_interval=30,
        ),
    )
    log.add("voltype-a", ev.VolumeTypeCreated(type_id="a", name="a"))
    log.add(
        "voltype-b", ev.VolumeTypeCreated(type_id="b", name="b", extra_specs={"vendor_name": "X"})
    )
    log.add(
        "voltype-c",
        ev.VolumeTypeCreated(
            type_id="c",
            name="c",
            extra_specs={"capabilities:storage_protocol": "file", "qos:iops": "5"},
        ),
    )
    types = log.state.types
    assert scheduler.place(log.state, types["a"], "nova") is not None
    assert scheduler.place(log.state, types["a"], "elsewhere") is None
    assert scheduler.place(log.state, types["b"], "nova") is None
    assert scheduler.place(log.state, types["c"], "nova") is not None
    log.add("volbackend-h", ev.VolumeBackendStatusSet(host="h@file#file", disabled=True))
    assert scheduler.place(log.state, types["a"], "nova") is None
