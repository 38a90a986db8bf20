"""Guest disk files: overlays written in-process (:mod:`.qcow2`), blank disks and
``info`` through ``qemu-img``, run in worker threads."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
from pathlib import Path
from typing import Any

from cairn.agents.compute import qcow2
from cairn.agents.compute.driver import HypervisorError

QEMU_IMG = "qemu-img"


class DiskError(HypervisorError):
    """qemu-img failed (the message carries its output), or is not installed."""


def _run(argv: list[str], started: list[subprocess.Popen[bytes]]) -> tuple[int, bytes, bytes]:
    with subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        started.append(process)
        out, err = process.communicate()
        return process.returncode, out, err


async def _qemu_img(*args: str) -> str:
    # subprocess.Popen in a worker thread, not asyncio's subprocesses: Popen starts
    # the child with vfork (under a millisecond), while the event loop's own spawn
    # forks the whole process on the loop's thread (about 20 ms for an agent,
    # during which nothing else runs: it capped spawns at ~50/s).
    started: list[subprocess.Popen[bytes]] = []
    future = asyncio.get_running_loop().run_in_executor(None, _run, [QEMU_IMG, *args], started)
    try:
        returncode, out, err = await asyncio.shield(future)
    except FileNotFoundError as e:
        raise DiskError(
            f"{QEMU_IMG} is not installed (scripts/libvirtd installs qemu-utils)"
        ) from e
    except asyncio.CancelledError:
        # Cancelled: do not leave qemu-img running behind the caller.
        for process in started:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
        while not future.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait([future])
        if not future.cancelled():
            future.exception()  # retrieved: the cancellation is what the caller gets
        raise
    if returncode != 0:
        message = err.decode(errors="replace").strip() or out.decode(errors="replace").strip()
        raise DiskError(f"qemu-img {args[0]} failed ({returncode}): {message}")
    return out.decode()


async def create(path: Path, *, size_gb: int, format: str = "qcow2") -> None:
    """Create an empty disk image of ``size_gb``. Raises :class:`DiskError` if
    ``path`` exists; a failed or cancelled create leaves no file behind."""
    await _create(path, format, [], size_gb)


async def create_overlay(
    path: Path, backing: Path, *, size_gb: int | None = None, backing_format: str = "qcow2"
) -> None:
    """Create ``path`` as a qcow2 overlay of ``backing`` (which it then depends on:
    keep it), with ``size_gb`` as its virtual size if given (not smaller than the
    backing image), else the backing image's. Raises :class:`DiskError` if
    ``path`` exists or qemu-img fails; a failed or cancelled create leaves no
    file behind."""
    if not backing.is_absolute():
        # qemu-img would resolve it against the overlay's directory, not ours.
        raise ValueError(f"the backing file must be an absolute path, not {backing}")
    if backing_format in IN_PROCESS_BACKING_FORMATS:
        # On the event loop's thread: a handful of small local writes (no data is
        # copied), cheaper than the hop to a worker thread and back.
        write_overlay(path, backing, size_gb=size_gb, backing_format=backing_format)
        return
    options = ["-b", str(backing), "-F", backing_format]
    await _create(path, "qcow2", options, size_gb)


#: Backing formats whose overlays :func:`write_overlay` writes without qemu-img.
IN_PROCESS_BACKING_FORMATS = frozenset({"qcow2", "raw"})


def write_overlay(path: Path, backing: Path, *, size_gb: int | None, backing_format: str) -> None:
    """:func:`create_overlay` for :data:`IN_PROCESS_BACKING_FORMATS`, blocking (a
    few small writes; callers already in a worker thread use it directly)."""
    if not backing.is_absolute():
        raise ValueError(f"the backing file must be an absolute path, not {backing}")
    size = None if size_gb is None else size_gb * 1024**3
    try:
        qcow2.write_overlay(path, backing, size, backing_format)
    except FileExistsError as e:
        raise DiskError(f"{path} exists already; not overwriting it") from e
    except (OSError, qcow2.Qcow2Error) as e:
        raise DiskError(f"cannot create the overlay {path} of {backing}: {e}") from e


async def _create(path: Path, format: str, options: list[str], size_gb: int | None) -> None:
    if await asyncio.to_thread(path.exists):
        raise DiskError(f"{path} exists already; not overwriting it")
    size = [] if size_gb is None else [f"{size_gb}G"]
    try:
        await _qemu_img("create", "-q", "-f", format, *options, str(path), *size)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)  # a quick local unlink, also when cancelled: no thread hop
        raise


async def info(path: Path) -> dict[str, Any]:
    """``qemu-img info`` as a dict: format, virtual-size (bytes), backing-filename..."""
    result: dict[str, Any] = json.loads(await _qemu_img("info", "--output=json", "-U", str(path)))
    return result


async def convert(source: Path, dest: Path, *, format: str = "qcow2") -> None:
    """A self-contained copy of ``source`` (its backing chain folded in) at ``dest``,
    in ``format``, uncompressed (as Nova's default: compressing takes several times
    longer, and a running guest is paused meanwhile); ``source`` may be in use by a
    guest (``-U``: the caller makes sure it is not being written, by pausing it)."""
    partial = dest.with_name(dest.name + ".partial")
    try:
        await _qemu_img("convert", "-U", "-O", format, str(source), str(partial))
        await asyncio.to_thread(partial.replace, dest)
    finally:
        await asyncio.to_thread(partial.unlink, True)


async def grow(path: Path, *, size_gb: int, format: str = "qcow2") -> bool:
    """Grow the disk image at ``path`` to ``size_gb`` (its virtual size); never
    shrinks it (a smaller size does nothing). True if it grew."""
    current = int((await info(path)).get("virtual-size", 0))
    wanted = size_gb * 1024**3
    if wanted <= current:
        return False
    await _qemu_img("resize", "-q", "-f", format, str(path), f"{size_gb}G")
    return True
