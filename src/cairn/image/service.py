"""The image service's core: the catalogue's read model, the deciders' executor and
the files, and the commands that need more than one of them (data in and out).

Data commands keep one promise: an image is ``active`` only once its complete
file is durable in place. An upload appends ``ImageUploadStarted`` (only one
upload per image can win it), streams to a temporary file, renames it into
place, then appends ``ImageDataUploaded`` together with the project's new
usage. If anything fails on the way (the client goes away, the quota is
exceeded, the store refuses), the file is removed and ``ImageUploadFailed``
puts the image back to ``queued``.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterable
from typing import Any

from cairn.app import CommandExecutor, Decider
from cairn.events import Metadata
from cairn.events import image as ev
from cairn.image import decide, rules, tasks
from cairn.image.decide import Limits
from cairn.image.errors import Conflict, ImageError, Invalid
from cairn.image.files import NODE_FILE, ImageFiles
from cairn.image.web_download import ALLOWED_PORTS, WebDownloads, check_uri, fetch
from cairn.logs import get_logger
from cairn.projections.image import Image, ImageData, ImageState, image_stream
from cairn.readmodel import ProjectionRunner
from cairn.store.port import AppendResult, EventStore

log = get_logger(__name__)

#: the events that start a data command (upload, stage, import)
_STARTS = frozenset({"ImageUploadStarted", "ImageImportStarted"})

RESTART_REASON = "The upload was interrupted by a restart of the image service."


class Images:
    def __init__(
        self,
        store: EventStore,
        runner: ProjectionRunner[ImageState],
        files: ImageFiles,
        limits: Limits,
    ) -> None:
        self.store = store
        self.runner = runner
        self.executor = CommandExecutor(store, runner)
        self.files = files
        self.limits = limits
        self.downloads = WebDownloads()
        #: the ports a web-download may fetch from (Glance's default: 80 and 443)
        self.import_ports = ALLOWED_PORTS

    @property
    def state(self) -> ImageState:
        return self.runner.state

    async def run(self, decider: Decider[ImageState]) -> AppendResult | None:
        return await self.executor.execute(decider)

    def get(self, image_id: str) -> Image:
        return decide.existing(self.state, image_id)

    # -- data ----------------------------------------------------------------------

    async def upload(self, image_id: str, chunks: AsyncIterable[bytes], meta: Metadata,
                     *, limits: Limits | None = None) -> Image:  # fmt: skip
        """Store ``chunks`` as the data of queued image ``image_id`` (within ``limits``,
        the service's by default)."""
        limits = limits or self.limits
        await self.run(decide.start_upload(image_id, meta, node=self.files.node))
        dest = self.files.path(image_id)
        try:
            data = await self.files.receive(chunks, dest, max_bytes=self._room(image_id, limits))
            await self.run(decide.finish_upload(image_id, data, limits, meta))
        except BaseException as exc:
            await asyncio.shield(self._abandon(image_id, exc, meta, "ImageDataUploaded"))
            raise
        return self.get(image_id)

    async def stage(self, image_id: str, chunks: AsyncIterable[bytes], meta: Metadata) -> Image:
        """Stage ``chunks`` for an import (``PUT /v2/images/{id}/stage``)."""
        await self.run(decide.start_upload(image_id, meta, staging=True, node=self.files.node))
        dest = self.files.staged_path(image_id)
        try:
            data = await self.files.receive(chunks, dest, max_bytes=self._room(image_id))
            await self.run(decide.finish_staging(image_id, data, self.limits, meta))
        except BaseException as exc:
            await asyncio.shield(self._abandon(image_id, exc, meta, "ImageDataStaged"))
            raise
        return self.get(image_id)

    async def import_staged(self, image_id: str, method: str, meta: Metadata) -> None:
        """``glance-direct``: the staged file becomes the image's data."""
        await self.run(decide.start_import(image_id, method, meta, node=self.files.node))
        staged = self.get(image_id).staged
        assert staged is not None  # start_import checked it
        dest = self.files.path(image_id)
        try:
            await self.files.adopt(self.files.staged_path(image_id), dest)
            await self.run(decide.finish_upload(image_id, staged, self.limits, meta))
        except BaseException as exc:
            await asyncio.shield(self._abandon(image_id, exc, meta, "ImageDataUploaded"))
            raise

    async def web_download(self, image_id: str, uri: object, meta: Metadata) -> None:
        """``web-download``: check ``uri`` (a 400 if it does not pass), then fetch
        it into the queued image in the background."""
        checked = await check_uri(uri, self.import_ports)
        image = self.get(image_id)
        if image.status != "queued":
            raise Conflict(f"Image {image_id} is {image.status}; only a queued image imports.")
        if not (image.attributes.disk_format and image.attributes.container_format):
            raise Invalid("Properties disk_format and container_format must be set first.")
        self.downloads.start(image_id, checked, lambda chunks: self.upload(image_id, chunks, meta))

    async def start_task(self, task_id: str, owner: str | None, given: dict[str, Any],
                         meta: Metadata) -> None:  # fmt: skip
        """Accept an ``import`` task once its input passes (a 400 otherwise), then
        make its image and fetch the data in the background (:mod:`.tasks`)."""
        missing = [k for k in ("import_from", "import_from_format", "image_properties")
                   if k not in given]  # fmt: skip
        if missing:
            raise Invalid(f"An import task's input needs {', '.join(missing)}.")
        uri = await check_uri(given["import_from"], self.import_ports)
        properties = given["image_properties"]
        if not isinstance(properties, dict):
            raise Invalid("image_properties is an object of image attributes.")
        attributes = rules.attributes_from(dict(properties))
        await self.run(tasks.create(task_id, owner, "import", given, meta))
        work = self._import_task(task_id, owner, attributes, uri, meta)
        self.downloads.spawn(work, f"task {task_id}")

    async def _import_task(
        self, task_id: str, owner: str | None, attributes: ev.ImageAttributes, uri: str,
        meta: Metadata,
    ) -> None:  # fmt: skip
        image_id = str(uuid.uuid4())
        try:
            await self.run(tasks.set_status(task_id, "processing", meta))
            await self.run(decide.create(image_id, owner, attributes, self.limits, meta))
            await self.upload(image_id, fetch(uri), meta)
        except asyncio.CancelledError:
            raise  # the next start fails it (reconcile)
        except Exception as exc:
            log.info("import task failed", task_id=task_id, reason=str(exc))
            message = str(exc) if isinstance(exc, ImageError) else f"{type(exc).__name__}: {exc}"
            await self.run(tasks.set_status(task_id, "failure", meta, message=message,
                                            now=time.time()))  # fmt: skip
            return
        await self.run(tasks.set_status(task_id, "success", meta, result={"image_id": image_id},
                                        now=time.time()))  # fmt: skip

    def _room(self, image_id: str, limits: Limits | None = None) -> int | None:
        """Bytes the image's owner may still store: an upload stops past it."""
        image = self.get(image_id)
        return (limits or self.limits).remaining_bytes(decide.usage(self.state, image.owner))

    async def _abandon(self, image_id: str, exc: BaseException, meta: Metadata,
                       landed: str) -> None:  # fmt: skip
        """Undo a data command that failed: remove its file, back to ``queued``;
        unless its final event (``landed``) was appended after all."""
        if isinstance(exc, ImageError):
            reason = str(exc)
        elif isinstance(exc, asyncio.CancelledError):
            reason = "The upload was cancelled: the client went away."
        else:
            reason = f"{type(exc).__name__}: {exc}"
        stored = await self._landed(image_id, landed)
        if stored is None:
            # The log cannot be read, so whether the data event landed is unknown:
            # keep the file; the restart's reconciliation decides with the log at hand.
            log.warning("upload failed and the log is unreadable", image_id=image_id, reason=reason)
            return
        if stored:
            # The data event was appended (only the read-your-write wait failed):
            # the image is active, its file must stay.
            log.warning("upload stored, but its answer failed", image_id=image_id, reason=reason)
            return
        log.info("image upload failed", image_id=image_id, reason=reason)
        await self.files.remove(image_id)
        try:
            await self.run(decide.fail_upload(image_id, reason[:255], meta))
        except Exception:  # the store is gone: the restart reconciles it
            log.warning("cannot record a failed upload", image_id=image_id, exc_info=True)

    async def _landed(self, image_id: str, event_type: str) -> bool | None:
        """Whether ``event_type`` was appended after the command's start event
        (other events, a PATCH, may have landed after it since); None when the
        log cannot be read."""
        try:
            events = await self.store.read_stream(image_stream(image_id))
        except Exception:
            log.warning("cannot read the image's stream", image_id=image_id, exc_info=True)
            return None
        for event in reversed(events):
            if event.type == event_type:
                return True
            if event.type in _STARTS:
                return False
        return False

    async def delete(self, image_id: str, meta: Metadata) -> None:
        await self.run(decide.delete(image_id, meta))
        await self.files.remove(image_id)

    def data(self, image: Image) -> ImageData | None:
        return image.data if image.status in ("active", "deactivated") else None

    # -- start -----------------------------------------------------------------------

    async def _staged_complete(self, image: Image) -> bool:
        """Whether ``image`` finished staging (``ImageDataStaged`` leaves it
        ``uploading``) and its staged file is still there."""
        if image.staged is None:
            return False
        return await asyncio.to_thread(self.files.staged_path(image.id).is_file)

    async def reconcile(self) -> None:
        """After a start: this store's uploads in flight were cut off (back to
        ``queued``; another store's are its own business), and files that belong
        to no image any more (a crash between delete and unlink) go."""
        meta = Metadata(request_id="cairn-image-reconcile")
        for task in list(self.state.tasks.values()):
            if task.status not in tasks.FINISHED:
                failed = tasks.set_status(
                    task.id, "failure", meta, message=RESTART_REASON, now=time.time()
                )
                await self.run(failed)
        for image in list(self.state.images.values()):
            ours = image.node in (None, self.files.node)
            if ours and image.status in ("saving", "uploading", "importing"):
                if image.status == "uploading" and await self._staged_complete(image):
                    continue  # staged data waiting for its import: not cut off
                await self.files.remove(image.id)
                await self.run(decide.fail_upload(image.id, RESTART_REASON, meta))

        def orphans() -> list[str]:
            state = self.state
            names = [
                p.name for p in self.files.root.iterdir() if p.is_file() and p.name != NODE_FILE
            ]
            names += [p.name for p in self.files.staging.iterdir() if p.is_file()]
            return [n for n in names if n not in state.images or state.images[n].status == "queued"]

        for name in await asyncio.to_thread(orphans):
            log.info("removing image data of no image", image_id=name)
            await self.files.remove(name)
