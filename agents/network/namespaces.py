"""Named network namespaces: listing, creating, removing, entering, running in.

Named namespaces are bind mounts under ``/run/netns`` (iproute2's convention,
so ``ip netns exec`` works on them too); they are made and removed with ``ip
netns`` itself, which also sets up the shared mount of ``/run/netns`` that
makes them visible to other mount namespaces.

Two ways into a namespace, both without a helper process of our own:

* :func:`entered` moves the *calling thread* (``setns(2)`` acts per thread) into
  a namespace and back; a socket created meanwhile (netlink, or the metadata
  service's listener) stays bound to that namespace for its whole life, wherever
  it is used from. Only ever call it in a worker thread, never on the event loop.
* :func:`run` starts a program inside one with ``nsenter --net``, which is lighter
  than ``ip netns exec`` (no private mount namespace, no /sys remount).

``None`` always means the process's own namespace.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import ctypes.util
import os
import signal
import time
from collections.abc import Iterator

from cairn.agents.network.errors import CommandFailed, NamespaceError

RUN_DIR = "/run/netns"
_CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)


def path(namespace: str) -> str:
    return f"{RUN_DIR}/{namespace}"


def names() -> set[str]:
    """The named namespaces (blocking only on tmpfs: cheap enough anywhere)."""
    try:
        return set(os.listdir(RUN_DIR))
    except FileNotFoundError:
        return set()


def _setns(fd: int, namespace: str) -> None:
    if _libc.setns(fd, _CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise NamespaceError(namespace, f"setns: {os.strerror(err)}")


@contextlib.contextmanager
def entered(namespace: str | None) -> Iterator[None]:
    """Run the body with the calling thread in ``namespace`` (None: stay)."""
    if namespace is None:
        yield
        return
    try:
        target = os.open(path(namespace), os.O_RDONLY | os.O_CLOEXEC)
    except OSError as e:
        raise NamespaceError(namespace, f"cannot open: {e.strerror}") from e
    home = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target, namespace)
        try:
            yield
        finally:
            # A thread left in the wrong namespace would act there for whoever
            # uses it next: failing to return is fatal for the process.
            if _libc.setns(home, _CLONE_NEWNET) != 0:  # pragma: no cover
                os.abort()
    finally:
        os.close(target)
        os.close(home)


async def run(argv: list[str], namespace: str | None = None, *, stdin: bytes | None = None) -> str:
    """Run a program in ``namespace`` and return its standard output; a non-zero
    exit raises :class:`CommandFailed` with its standard error."""
    full = argv if namespace is None else ["nsenter", f"--net={path(namespace)}", *argv]
    try:
        proc = await asyncio.create_subprocess_exec(
            *full,
            stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
    except OSError as e:
        raise CommandFailed(argv, namespace, str(e)) from e
    # A cancelled caller still waits for the program to end: a half-run ``ip
    # netns add`` leaves a namespace file without its mount behind.
    communicating = asyncio.ensure_future(proc.communicate(stdin))
    try:
        out, err = await asyncio.shield(communicating)
    except asyncio.CancelledError:
        with contextlib.suppress(Exception):
            await communicating
        raise
    if proc.returncode != 0:
        raise CommandFailed(
            argv, namespace, err.decode(errors="replace") or f"exit {proc.returncode}"
        )
    return out.decode(errors="replace")


def mounted(namespace: str) -> bool:
    """Whether a namespace's file really holds a namespace (a bind mount of one
    lives on nsfs, not on the tmpfs of /run/netns)."""
    try:
        return os.stat(path(namespace)).st_dev != os.stat(RUN_DIR).st_dev
    except FileNotFoundError:
        return False


async def create(namespace: str) -> None:
    """Create a named namespace with its loopback up (a namespace that exists
    is fine; a file left by a creation that was cut short is replaced)."""
    if namespace in names():
        if mounted(namespace):
            return
        await asyncio.to_thread(_unlink, namespace)
    try:
        await run(["ip", "netns", "add", namespace])
    except CommandFailed as e:
        if namespace not in names():
            raise NamespaceError(namespace, str(e)) from e
    await run(["ip", "link", "set", "lo", "up"], namespace)


async def delete(namespace: str) -> None:
    """Remove a named namespace (one that is gone already is fine). Its devices
    vanish with it once nothing holds it: kill its processes and close its
    sockets first."""
    if namespace not in names():
        return
    if not mounted(namespace):
        await asyncio.to_thread(_unlink, namespace)
        return
    try:
        await run(["ip", "netns", "delete", namespace])
    except CommandFailed as e:
        if namespace in names():
            raise NamespaceError(namespace, str(e)) from e


def _unlink(namespace: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path(namespace))


def pids_in(namespace: str) -> list[int]:
    """Processes whose network namespace is ``namespace`` (a scan of /proc: slow-ish)."""
    try:
        target = os.stat(path(namespace))
    except FileNotFoundError:
        return []
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            st = os.stat(f"/proc/{entry}/ns/net")
        except OSError:
            continue
        if (st.st_dev, st.st_ino) == (target.st_dev, target.st_ino):
            found.append(int(entry))
    return found


def kill_all(namespace: str) -> list[int]:
    """(blocking) SIGKILL every process left in a namespace Cairn owns (but this
    one), and wait until they are gone; their pids."""
    victims = [pid for pid in pids_in(namespace) if pid != os.getpid()]
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and any(_alive(pid) for pid in victims):
        time.sleep(0.02)
    return victims


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False
