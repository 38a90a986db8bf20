"""Image benchmark: upload and download MB/s through the HTTP API, next to the disk's own.

    python -m bench.image [--size-mib 1024] [--dir /var/tmp] [--rounds 3]

In one run, on the same file system (a fresh directory under ``--dir``):

1. the disk's own speed: write ``--size-mib`` in 4 MiB blocks and fsync (what an
   upload must do), then read the file back cold;
2. ``cairn up`` in a subprocess (SQLite, uvloop, ``--log-level warning``) with
   its data directory there: create an image, ``PUT`` its data (the server
   hashes md5 and sha512, writes, fsyncs and renames), then ``GET`` it back cold.

"Cold" reads: the page cache cannot be dropped here (``/proc/sys/vm/drop_caches``
needs a privilege containers lack), so both the disk read and the download
evict the file's pages first with ``posix_fadvise(DONTNEED)`` after it was
fsynced. What remains is the host's cache under the virtual disk, which both
see alike. A warm download (pages cached) is printed too, for reference.

The HTTP client is a bare socket (one pre-built 4 MiB block sent again and
again; ``recv_into`` one buffer), so the figures measure the server, not the
client. The same run measures md5 + sha512 in two threads in the bench's own
process: the CPU's ceiling for an upload, whatever the disk. The disk of a
shared VM drifts from one second to the next (and a file system's first write
to fresh blocks of a thin virtual disk is slower than a rewrite), so each of
``--rounds`` rounds measures the disk and the API back to back; medians, ranges
and the ratios of the medians are printed. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import yaml

BIN = Path(sys.executable).parent
BLOCK = 4 * 1024 * 1024
MB = 1e6


def cpu_reference() -> float:
    """Seconds for a fixed pure-Python loop: this VM's speed drifts between runs,
    so figures are comparable only next to this number."""
    started = time.perf_counter()
    total = 0
    for i in range(10_000_000):
        total += i
    return time.perf_counter() - started


def evict(path: Path) -> None:
    """Drop ``path``'s (clean) pages from the page cache."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def hashing(size: int, block: bytes) -> float:
    """Seconds to md5 and sha512 ``size`` bytes in two threads, as an upload does:
    the CPU's ceiling for uploads, whatever the disk."""
    md5, sha = hashlib.md5(usedforsecurity=False), hashlib.sha512()

    def feed(update: Callable[[bytes], None]) -> None:
        for _ in range(size // len(block)):
            update(block)

    started = time.perf_counter()
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(feed, (md5.update, sha.update)))
    return time.perf_counter() - started


def disk_write(path: Path, size: int, block: bytes) -> float:
    started = time.perf_counter()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        for _ in range(size // len(block)):
            os.write(fd, block)
        os.fsync(fd)
    finally:
        os.close(fd)
    return time.perf_counter() - started


def disk_read(path: Path) -> float:
    evict(path)
    buffer = bytearray(BLOCK)
    started = time.perf_counter()
    with path.open("rb", buffering=0) as handle:
        while handle.readinto(buffer):
            pass
    return time.perf_counter() - started


@contextmanager
def cloud(data: Path) -> Iterator[tuple[str, int, str]]:
    """A running ``cairn up``: host, port and the admin password."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {k: v for k, v in os.environ.items() if not k.startswith("CAIRN_")}
    process = subprocess.Popen(
        [str(BIN / "cairn"), "up", "--data-dir", str(data), "--listen", f"127.0.0.1:{port}",
         "--bcrypt-cost", "4", "--log-level", "warning", "--guest-dir", "none",
         "--image-quota-bytes", "-1"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )  # fmt: skip
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        if not line.startswith("Cairn is up"):
            raise RuntimeError(f"cairn up did not start: {line!r}")
        clouds = yaml.safe_load((data / "clouds.yaml").read_text())
        yield "127.0.0.1", port, clouds["clouds"]["cairn-admin"]["auth"]["password"]
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)


def request(host: str, port: int, method: str, path: str, headers: dict[str, str],
            body: bytes = b"") -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    with socket.create_connection((host, port)) as conn:
        head = [f"{method} {path} HTTP/1.1", f"Host: {host}", "Connection: close",
                f"Content-Length: {len(body)}"]  # fmt: skip
        head += [f"{k}: {v}" for k, v in headers.items()]
        conn.sendall(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        return _response(conn, keep=True)


def _response(conn: socket.socket, *, keep: bool,
              buffer: bytearray | None = None) -> tuple[int, dict[str, str], bytes]:  # fmt: skip
    """Read one response: status, headers, and the body (kept, or only counted)."""
    raw = b""
    while b"\r\n\r\n" not in raw:
        more = conn.recv(65536)
        if not more:
            raise ConnectionError("the server closed the connection")
        raw += more
    head, _, rest = raw.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:])}
    length = int(headers.get("content-length", "0"))
    if keep:
        body = rest
        while len(body) < length:
            body += conn.recv(65536)
        return status, headers, body
    view = memoryview(buffer or bytearray(BLOCK))
    received = len(rest)
    while received < length:
        got = conn.recv_into(view)
        if not got:
            break
        received += got
    return status, headers, str(received).encode()


def upload(host: str, port: int, token: str, image: str, size: int, block: bytes) -> float:
    started = time.perf_counter()
    with socket.create_connection((host, port)) as conn:
        head = (f"PUT /image/v2/images/{image}/file HTTP/1.1\r\nHost: {host}\r\n"
                f"X-Auth-Token: {token}\r\nContent-Type: application/octet-stream\r\n"
                f"Content-Length: {size}\r\nConnection: close\r\n\r\n")  # fmt: skip
        conn.sendall(head.encode())
        for _ in range(size // len(block)):
            conn.sendall(block)
        status, _, body = _response(conn, keep=True)
    if status != 204:
        raise RuntimeError(f"upload answered {status}: {body[:200]!r}")
    return time.perf_counter() - started


def download(host: str, port: int, token: str, image: str, size: int) -> float:
    started = time.perf_counter()
    with socket.create_connection((host, port)) as conn:
        head = (f"GET /image/v2/images/{image}/file HTTP/1.1\r\nHost: {host}\r\n"
                f"X-Auth-Token: {token}\r\nConnection: close\r\n\r\n")  # fmt: skip
        conn.sendall(head.encode())
        status, _, received = _response(conn, keep=False)
    if status != 200 or int(received) != size:
        raise RuntimeError(f"download answered {status} with {received.decode()} bytes")
    return time.perf_counter() - started


def token_for(host: str, port: int, password: str) -> str:
    user = {"name": "admin", "domain": {"id": "default"}, "password": password}
    scope = {"project": {"name": "admin", "domain": {"id": "default"}}}
    identity = {"methods": ["password"], "password": {"user": user}}
    body = json.dumps({"auth": {"identity": identity, "scope": scope}}).encode()
    status, headers, answer = request(
        host, port, "POST", "/identity/v3/auth/tokens", {"Content-Type": "application/json"}, body
    )
    if status != 201:
        raise RuntimeError(f"token: {status} {answer[:200]!r}")
    return headers["x-subject-token"]


def line(name: str, size: int, times: list[float], reference: list[float] | None = None) -> None:
    """The median rate of ``times`` (and the range), as a ratio of ``reference``'s median."""
    rates = sorted(size / t / MB for t in times)
    rate = statistics.median(rates)
    ratio = ""
    if reference:
        ratio = f"   {rate / statistics.median(size / t / MB for t in reference):5.0%}"
    spread = f"{rates[0]:.0f}-{rates[-1]:.0f}"
    print(f"  {name:<34} {rate:7.0f} MB/s  (range {spread:>11}){ratio}", flush=True)


def new_image(host: str, port: int, token: str) -> str:
    status, _, made = request(
        host, port, "POST", "/image/v2/images",
        {"X-Auth-Token": token, "Content-Type": "application/json"},
        b'{"name": "bench", "disk_format": "raw", "container_format": "bare"}',
    )  # fmt: skip
    if status != 201:
        raise RuntimeError(f"image create: {status} {made[:200]!r}")
    return str(json.loads(made)["id"])


def run(args: argparse.Namespace) -> None:
    size = args.size_mib * 1024 * 1024
    block = hashlib.sha512(b"cairn").digest() * (BLOCK // 64)  # not zeros: nothing can skip it
    print(f"image bench: {args.size_mib} MiB, {args.rounds} rounds, {os.cpu_count()} CPUs, "
          f"cpu reference {cpu_reference():.3f} s", flush=True)  # fmt: skip
    writes, reads, uploads, downloads, warm, hashes = [], [], [], [], [], []
    with tempfile.TemporaryDirectory(prefix="cairn-bench-image-", dir=args.dir) as tmp:
        data = Path(tmp) / "data"
        with cloud(data) as (host, port, password):
            token = token_for(host, port, password)
            # The disk's speed on a shared VM drifts from one second to the next:
            # each round measures the disk and the API back to back.
            for _ in range(args.rounds):
                probe = Path(tmp) / "disk-probe"
                writes.append(disk_write(probe, size, block))
                image = new_image(host, port, token)
                uploads.append(upload(host, port, token, image, size, block))
                reads.append(disk_read(probe))
                probe.unlink()
                evict(data / "images" / image)
                downloads.append(download(host, port, token, image, size))
                warm.append(download(host, port, token, image, size))
                request(host, port, "DELETE", f"/image/v2/images/{image}", {"X-Auth-Token": token})
                hashes.append(hashing(size, block))
    print("disk (same file system), median of the rounds:")
    line("sequential write + fsync", size, writes)
    line("sequential read (evicted)", size, reads)
    print("CPU (in this process):")
    line("md5 + sha512 in two threads", size, hashes)
    print("through the image API (HTTP, one client):")
    line("upload (md5 + sha512, fsync)", size, uploads, writes)
    line("  the same, against the hashing", size, uploads, hashes)
    line("download (evicted)", size, downloads, reads)
    line("download (page cache, reference)", size, warm)
    print(f"cpu reference after: {cpu_reference():.3f} s", flush=True)


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--size-mib", type=int, default=1024, help="image size (default: 1024)")
    parser.add_argument("--dir", default="/var/tmp", help="where to work (default: /var/tmp)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds measured (default: 3)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    run(parse(argv))


if __name__ == "__main__":
    main()
