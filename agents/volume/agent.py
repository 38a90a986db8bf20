"""The volume agent of one backend: makes, copies, grows and removes volume files.

Work arrives as *which volume to look at*: a request event on the log (a
volume's, or one of its snapshots'), or the reconciliation at start. Each
volume has at most one worker at a time, which looks at the volume and its
snapshots in the agent's own read model and takes the step they are owed
(:func:`next_step`), appends its outcome at the stream's version, and looks
again until nothing is left. So a duplicated notification is harmless, and a
request left unfinished by a crash is found again at the next start.

A step that fails appends the failure (the volume goes to ``error``,
``error_extending`` or ``error_deleting``, a snapshot to ``error``); a step that
outlives ``operation_timeout`` fails the same way: no volume stays in a
transitional state while its agent runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from cairn.agents.compute.images import ImageError, ImageSource
from cairn.agents.volume.driver import VolumeDriver, VolumeDriverError
from cairn.events import ANY_VERSION, DomainEvent, Metadata, RecordedEvent, registry
from cairn.events import volume as ev
from cairn.logs import get_logger
from cairn.projections.volume import (
    Backup,
    Snapshot,
    Volume,
    VolumeProjection,
    VolumeState,
    backend_stream,
    backup_stream,
    snapshot_stream,
    volume_stream,
)
from cairn.readmodel import ProjectionRunner
from cairn.store.port import EventStore, StreamWrite, WrongExpectedVersion

log = get_logger(__name__)

#: steps one worker takes for a volume before it yields (a guard against a loop)
MAX_STEPS = 32
#: the request events that give a volume's agent work
REQUESTS = frozenset(
    {
        "VolumeCreateRequested",
        "VolumeExtendRequested",
        "VolumeDeleteRequested",
        "VolumeUploadRequested",
        "BackupCreateRequested",
        "BackupImported",
        "BackupDeleteRequested",
        "BackupStatusReset",
        "VolumeRestoreRequested",
        "SnapshotCreateRequested",
        "SnapshotDeleteRequested",
        "VolumeStatusReset",
        "SnapshotStatusReset",
    }
)


class ImageUploader(Protocol):
    async def upload(self, image_id: str, source: Path) -> None:
        """Fill the queued image ``image_id`` with the file ``source``."""


class Step(enum.Enum):
    UPLOAD = "upload"
    CREATE = "create"
    EXTEND = "extend"
    DELETE = "delete"
    SNAPSHOT = "snapshot"
    DELETE_SNAPSHOT = "delete_snapshot"
    NOTHING = "nothing"


def next_step(volume: Volume | None, snapshots: list[Snapshot]) -> tuple[Step, Snapshot | None]:
    """What a volume and its snapshots are owed by their backend, one step at a time:
    snapshots first (a cascade delete removes them before the volume)."""
    if volume is None:
        return Step.NOTHING, None
    # What was requested, not the status: an admin's os-reset_status to "deleting"
    # deletes nothing, as in Cinder.
    for snapshot in snapshots:
        if snapshot.pending == "create":
            return Step.SNAPSHOT, snapshot
        if snapshot.pending == "delete":
            return Step.DELETE_SNAPSHOT, snapshot
    if volume.pending == "create":
        return Step.CREATE, None
    if volume.pending == "extend":
        return Step.EXTEND, None
    if volume.pending == "upload":
        return Step.UPLOAD, None
    if volume.pending == "delete" and not snapshots:
        return Step.DELETE, None
    return Step.NOTHING, None


@dataclass(frozen=True)
class AgentConfig:
    host: str
    #: how long one step may take before it is ended as a failure
    operation_timeout: float = 600.0
    #: volumes worked on at the same time
    concurrency: int = 4
    availability_zone: str = "nova"
    #: how often the agent says it is alive (os-services shows it down after 3 missed)
    heartbeat_interval: float = 30.0


class VolumeAgent:
    """``start`` it, it follows the log; ``stop`` it."""

    def __init__(
        self,
        store: EventStore,
        driver: VolumeDriver,
        images: ImageSource,
        config: AgentConfig,
        *,
        uploads: ImageUploader | None = None,
    ) -> None:
        self.store = store
        self.driver = driver
        self.images = images
        self.uploads = uploads
        self.config = config
        self.runner: ProjectionRunner[VolumeState] = ProjectionRunner(store, VolumeProjection())
        self._workers: dict[str, asyncio.Task[None]] = {}
        self._again: set[str] = set()
        self._slots = asyncio.Semaphore(config.concurrency)
        self._follow: asyncio.Task[None] | None = None
        self._heartbeat: asyncio.Task[None] | None = None
        self._stopping = False

    @property
    def host(self) -> str:
        return self.config.host

    # -- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Follow the log from the read model's position, then look at every volume
        of this backend once (the reconciliation: work a crash left unfinished)."""
        prepare = getattr(self.driver, "prepare", None)
        if prepare is not None:
            await prepare()
        await self.runner.start()
        await self._register()
        after = self.runner.position
        self._follow = asyncio.create_task(self._follow_log(after), name=f"volume-{self.host}")
        state = self.runner.state
        owed = [v.id for v in state.volumes.values() if v.host == self.host]
        owed += [f"backup:{b.id}" for b in state.backups.values() if b.host == self.host]
        for key in owed:
            self.notify(key)
        await self._report_strays()
        self._heartbeat = asyncio.create_task(self._heartbeats(), name=f"volume-hb-{self.host}")
        log.info("volume.agent_started", host=self.host, reconciling=len(owed))

    async def stop(self) -> None:
        if self._stopping:
            return
        self._stopping = True
        for task in (self._follow, self._heartbeat):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        workers = list(self._workers.values())
        for task in workers:
            task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        if self._heartbeat is not None:
            with contextlib.suppress(Exception):
                await self._append_backend(ev.VolumeBackendStopped(host=self.host))
        await self.runner.stop()
        log.info("volume.agent_stopped", host=self.host)

    # -- the backend's registration and heartbeats (os-services, pools) ---------------

    async def _register(self) -> None:
        version, total, free = await self.driver.describe()
        await self._append_backend(
            ev.VolumeBackendRegistered(
                host=self.host,
                availability_zone=self.config.availability_zone,
                driver=self.driver.name,
                driver_version=version,
                volume_format=self.driver.format,
                total_capacity_gb=total,
                free_capacity_gb=free,
                heartbeat_interval=self.config.heartbeat_interval,
                export_path=self.driver.export_path(),
            )
        )

    async def _heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.config.heartbeat_interval)
            try:
                _, _, free = await self.driver.describe()
                await self._append_backend(
                    ev.VolumeBackendHeartbeat(host=self.host, free_capacity_gb=free)
                )
            except Exception as exc:
                log.warning("volume.heartbeat_failed", host=self.host, error=str(exc))

    async def _append_backend(self, event: DomainEvent) -> None:
        meta = Metadata(user_id=f"cairn-volume-agent@{self.host}")
        write = StreamWrite(backend_stream(self.host), [registry.new(event, meta)], ANY_VERSION)
        await self.store.append(write)

    async def idle(self) -> None:
        """Wait until no volume has work under way (tests and tools)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    async def _report_strays(self) -> None:
        """Files the log knows nothing of are left alone but reported (an operator's
        to judge: they may belong to another cloud sharing the directory)."""
        volumes, snapshots = await self.driver.inventory()
        state = self.runner.state
        strays = sorted(volumes - set(state.volumes)) + sorted(snapshots - set(state.snapshots))
        if strays:
            log.warning("volume.stray_files", host=self.host, ids=strays)

    async def _follow_log(self, after: int) -> None:
        async for event in self.store.subscribe(after=after):
            if event.type in REQUESTS:
                # The agent's read model follows the same log: wait until it holds this.
                await self.runner.wait_for(event.position, 30.0)
                volume_id = self._volume_of(event)
                if volume_id is not None:
                    self.notify(volume_id)

    def _volume_of(self, event: RecordedEvent) -> str | None:
        """The worker key an event gives work to: its volume's id, or for a backup's
        delete (its volume may be long gone) ``backup:<id>``."""
        state = self.runner.state
        if event.stream.startswith("volbackup-"):
            backup = state.backups.get(event.stream.removeprefix("volbackup-"))
            if backup is None or backup.host != self.host:
                return None
            if backup.pending in ("delete", "import") or backup.volume_id not in state.volumes:
                return f"backup:{backup.id}"
            return backup.volume_id
        if event.stream.startswith("volume-"):
            volume = state.volumes.get(event.stream.removeprefix("volume-"))
        else:
            snapshot = state.snapshots.get(event.stream.removeprefix("volsnapshot-"))
            volume = state.volumes.get(snapshot.volume_id) if snapshot is not None else None
        return volume.id if volume is not None and volume.host == self.host else None

    # -- work -------------------------------------------------------------------------

    def notify(self, volume_id: str) -> None:
        if self._stopping:
            return
        if volume_id in self._workers:
            self._again.add(volume_id)
            return
        self._workers[volume_id] = asyncio.create_task(
            self._work(volume_id), name=f"volume-{self.host}-{volume_id}"
        )

    async def _work(self, volume_id: str) -> None:
        try:
            while True:
                self._again.discard(volume_id)
                async with self._slots:
                    await self._settle(volume_id)
                if volume_id not in self._again or self._stopping:
                    return
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("volume.work_failed", host=self.host, volume_id=volume_id, exc_info=exc)
        finally:
            del self._workers[volume_id]

    async def _settle(self, volume_id: str) -> None:
        if volume_id.startswith("backup:"):
            await self._settle_backup(volume_id.removeprefix("backup:"))
            return
        for _ in range(MAX_STEPS):
            state = self.runner.state
            volume = state.volumes.get(volume_id)
            if volume is None or volume.host != self.host:
                return
            if await self._backups_owed(state, volume):
                continue
            step, snapshot = next_step(volume, state.snapshots_of(volume_id))
            if step is Step.NOTHING:
                return
            try:
                async with asyncio.timeout(self.config.operation_timeout):
                    outcome = await self._do(step, volume, snapshot)
            except TimeoutError:
                outcome = self._failure(
                    step, volume, snapshot, f"timed out after {self.config.operation_timeout}s"
                )
            except (VolumeDriverError, ImageError) as exc:
                log.warning(
                    "volume.step_failed", step=step.value, volume_id=volume_id, error=str(exc)
                )
                outcome = self._failure(step, volume, snapshot, str(exc))
            stream = (
                snapshot_stream(snapshot.id) if snapshot is not None else volume_stream(volume_id)
            )
            await self._append(state, stream, outcome)
        log.warning("volume.too_many_steps", host=self.host, volume_id=volume_id)

    # -- backups ----------------------------------------------------------------------

    async def _backups_owed(self, state: VolumeState, volume: Volume) -> bool:
        """Take one backup step the volume owes (a backup of it, a restore into it);
        whether one was taken."""
        backup = next(
            (
                b
                for b in state.backups.values()
                if b.volume_id == volume.id and b.pending == "create" and b.host == self.host
            ),
            None,
        )
        if backup is not None:
            outcome: DomainEvent
            try:
                async with asyncio.timeout(self.config.operation_timeout):
                    parent = state.backups.get(backup.parent_id or "")
                    await self.driver.backup(
                        backup.id,
                        volume.id,
                        parent.data_id if parent is not None else None,
                        backup.snapshot_id,
                    )
                outcome = ev.BackupCreated(backup_id=backup.id)
            except (TimeoutError, VolumeDriverError) as exc:
                outcome = ev.BackupCreateFailed(backup_id=backup.id, reason=str(exc) or "timeout")
            await self._append(state, backup_stream(backup.id), outcome)
            return True
        if volume.pending == "restore" and volume.restore_backup_id is not None:
            backup_id = volume.restore_backup_id
            try:
                async with asyncio.timeout(self.config.operation_timeout):
                    restored = state.backups.get(backup_id)
                    data = restored.data_id if restored is not None else backup_id
                    await self.driver.restore(data, volume.id, volume.size)
                outcome = ev.VolumeRestored(volume_id=volume.id, backup_id=backup_id)
            except (TimeoutError, VolumeDriverError) as exc:
                outcome = ev.VolumeRestoreFailed(
                    volume_id=volume.id, backup_id=backup_id, reason=str(exc) or "timeout"
                )
            await self._append(state, volume_stream(volume.id), outcome)
            return True
        return False

    async def _settle_backup(self, backup_id: str) -> None:
        state = self.runner.state
        backup: Backup | None = state.backups.get(backup_id)
        if backup is None or backup.host != self.host:
            return
        if backup.pending == "create" and backup.volume_id in state.volumes:
            self.notify(backup.volume_id)  # made from its volume, by the volume's worker
            return
        outcome: DomainEvent
        if backup.pending == "import":
            found = await self.driver.has_backup(backup.data_id)
            outcome = (
                ev.BackupCreated(backup_id=backup_id)
                if found
                else ev.BackupCreateFailed(
                    backup_id=backup_id, reason=f"no data of backup {backup.data_id} here"
                )
            )
            await self._append(state, backup_stream(backup_id), outcome)
            return
        if backup.pending != "delete":
            return
        shared = any(
            b.data_id == backup.data_id for b in state.backups.values() if b.id != backup_id
        )
        try:
            if not shared:  # an imported record and its original share one file
                await self.driver.delete_backup(backup.data_id)
            outcome = ev.BackupDeleted(backup_id=backup_id)
        except VolumeDriverError as exc:
            outcome = ev.BackupDeleteFailed(backup_id=backup_id, reason=str(exc))
        await self._append(state, backup_stream(backup_id), outcome)

    async def _do(self, step: Step, volume: Volume, snapshot: Snapshot | None) -> DomainEvent:
        driver = self.driver
        match step:
            case Step.SNAPSHOT:
                assert snapshot is not None
                await driver.create_snapshot(snapshot.id, volume.id)
                return ev.SnapshotCreated(snapshot_id=snapshot.id)
            case Step.DELETE_SNAPSHOT:
                assert snapshot is not None
                await driver.delete_snapshot(snapshot.id)
                return ev.SnapshotDeleted(snapshot_id=snapshot.id, project_id=snapshot.project_id)
            case Step.CREATE:
                allocated = await self._create(volume)
                return ev.VolumeCreated(volume_id=volume.id, host=self.host, allocated=allocated)
            case Step.EXTEND:
                await driver.extend(volume.id, volume.new_size)
                return ev.VolumeExtended(volume_id=volume.id, size=volume.new_size)
            case Step.UPLOAD:
                image_id = volume.upload_image_id or ""
                await self._upload(volume, image_id)
                return ev.VolumeUploaded(volume_id=volume.id, image_id=image_id)
            case _:
                await driver.delete(volume.id)
                return ev.VolumeDeleted(volume_id=volume.id, project_id=volume.project_id)

    async def _create(self, volume: Volume) -> int:
        source, driver = volume.source, self.driver
        if source.kind == "snapshot" and source.id:
            return await driver.create_from_snapshot(volume.id, source.id, volume.size)
        if source.kind == "volume" and source.id:
            return await driver.clone(volume.id, source.id, volume.size)
        if source.kind == "image" and source.id:
            return await self._from_image(volume, source.id, source.disk_format or "raw")
        if source.kind == "backup" and source.id:
            backup = self.runner.state.backups.get(source.id)
            await driver.restore(backup.data_id if backup else source.id, volume.id, volume.size)
            return 0
        return await driver.create_empty(volume.id, volume.size)

    async def _from_image(self, volume: Volume, image_id: str, disk_format: str) -> int:
        tmp_dir = getattr(self.driver, "tmp", None)
        if tmp_dir is None:
            raise VolumeDriverError("the driver has no place to download images to")
        download = tmp_dir / f"image-{image_id}-{volume.id}"
        try:
            await self.images.download(image_id, download)
            return await self.driver.create_from_file(volume.id, download, disk_format, volume.size)
        finally:
            await asyncio.to_thread(download.unlink, missing_ok=True)

    async def _upload(self, volume: Volume, image_id: str) -> None:
        if self.uploads is None:
            raise VolumeDriverError("this agent cannot upload to the image service")
        tmp_dir = getattr(self.driver, "tmp", None)
        if tmp_dir is None:
            raise VolumeDriverError("the driver has no place to write the image to")
        out = tmp_dir / f"upload-{volume.id}-{image_id}"
        try:
            await self.driver.export(volume.id, volume.upload_format, out)
            await self.uploads.upload(image_id, out)
        finally:
            await asyncio.to_thread(out.unlink, missing_ok=True)

    def _failure(
        self, step: Step, volume: Volume, snapshot: Snapshot | None, reason: str
    ) -> DomainEvent:
        match step:
            case Step.SNAPSHOT:
                assert snapshot is not None
                return ev.SnapshotCreateFailed(snapshot_id=snapshot.id, reason=reason)
            case Step.DELETE_SNAPSHOT:
                assert snapshot is not None
                return ev.SnapshotDeleteFailed(snapshot_id=snapshot.id, reason=reason)
            case Step.CREATE:
                return ev.VolumeCreateFailed(volume_id=volume.id, reason=reason)
            case Step.EXTEND:
                return ev.VolumeExtendFailed(volume_id=volume.id, reason=reason)
            case Step.UPLOAD:
                image_id = volume.upload_image_id or ""
                return ev.VolumeUploadFailed(volume_id=volume.id, image_id=image_id, reason=reason)
            case _:
                return ev.VolumeDeleteFailed(volume_id=volume.id, reason=reason)

    async def _append(self, state: VolumeState, stream: str, outcome: DomainEvent) -> None:
        """Append the outcome at the version the step was decided on; when the stream
        moved meanwhile (an admin reset the status), the next look decides again."""
        meta = Metadata(user_id=f"cairn-volume-agent@{self.host}")
        write = StreamWrite(stream, [registry.new(outcome, meta)], state.versions.get(stream, 0))
        try:
            result = await self.store.append(write)
        except WrongExpectedVersion:
            await self.runner.wait_for(await self.store.head(), 10.0)
            return
        await self.runner.wait_for(result.position, 10.0)
