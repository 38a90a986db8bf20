"""Event stream benchmark: deliveries/s and commit-to-delivery latency with 1, 100
and 1,000 WebSocket subscribers while events are appended at a steady rate.

    python -m bench.stream [--subscribers 1,100,1000] [--rate 1000] [--seconds 10]
                           [--client-processes 2] [--store URL]

Three kinds of process, as a deployment would have them:

* the **cloud**: this module with ``--serve``, the whole Cairn application
  (identity and events, the store given by ``--store``, SQLite by default)
  with an appender inside it that appends ``--rate`` events/s in ten appends
  a second per 100 events (as API handlers' group commits would);
* the **subscribers**: ``--client-processes`` processes (this module with
  ``--client``) sharing the subscriptions, each a minimal WebSocket client
  in Python (an asyncio protocol that splits frames and reads two fields per
  frame; a full JSON decode of a million events/s would measure the client);
* this process, which runs the rounds and prints the figures.

Every subscriber is an admin subscribed to everything from the head, so each
event is delivered to every subscriber: with 1,000 subscribers at 1,000
events/s that is up to 1,000,000 deliveries/s.

Latency is commit-to-delivery per event: from its ``recorded_at`` (set when
its append is planned, just before the commit, so the figure includes the
commit and is an upper bound) to the moment the client read the WebSocket
message holding it. A client reads the times of a message's oldest and newest
events only; "p99" spreads the message's events evenly between the two, "p99
old" counts them all at the oldest's latency (an upper bound of the upper
bound). Deliveries/s is the events received divided by the seconds of
appending. CPU seconds of the cloud and of the clients are printed beside
them, with a CPU reference before and after (this VM's speed drifts).
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import contextlib
import json
import os
import random
import resource
import signal
import socket
import sys
import tempfile
import time
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
import uvloop

from bench.eventstore import cpu_reference

ADMIN_PASSWORD = "bench-admin-pass"
#: Latency samples a client process keeps at most (a uniform subsample beyond).
MAX_SAMPLES = 200_000


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def raise_fd_limit() -> None:
    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` so far (Linux)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- the cloud (--serve) ----------------------------------------------------------------


async def serve(port: int, data_dir: Path, store: str | None) -> None:
    from aiohttp import web

    from cairn import logs
    from cairn.api import RUNNER_OPTIONS, STORE
    from cairn.config import Listen, Settings
    from cairn.runtime import build_app

    logs.configure("warning", "console")
    settings = Settings(
        data_dir=data_dir, listen=Listen("127.0.0.1", port), store=store, bcrypt_cost=4,
        admin_password=ADMIN_PASSWORD, log_level="warning",
    )  # fmt: skip
    await asyncio.to_thread(data_dir.mkdir, parents=True, exist_ok=True)
    app = build_app(settings)
    runner = web.AppRunner(app, **RUNNER_OPTIONS)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port).start()
    print("ready", flush=True)
    try:
        while True:
            line = (await asyncio.to_thread(sys.stdin.readline)).split()
            if not line or line[0] == "quit":
                break
            if line[0] == "append":
                count, first, last = await append_steadily(
                    app[STORE], float(line[1]), float(line[2]), int(line[3])
                )
                print(f"appended {count} {first} {last}", flush=True)
    finally:
        await runner.cleanup()


async def append_steadily(
    store: Any, rate: float, seconds: float, projects: int
) -> tuple[int, int, int]:
    """Append ``rate`` events/s for ``seconds``: an append of ``rate / 100`` events
    every 10 ms, each on its own (several may be in flight, as concurrent API
    requests' appends are), so a slow commit delays no later tick. With
    ``projects``, the appends take turns among that many projects."""
    from cairn.events import Metadata, NewEvent
    from cairn.store import StreamWrite

    per_append = max(1, round(rate / 100))
    interval = per_append / rate
    positions: list[int] = []

    def payload(i: int) -> bytes:
        # About the size of a typical event's payload, not all alike.
        return json.dumps({
            "widget_id": str(uuid.uuid4()), "size": i, "state": "ACTIVE",
            "note": f"widget {i} changed by bench request {uuid.uuid4().hex}",
            "tags": [f"t{i % 7}", f"group-{i % 13}"],
        }).encode()  # fmt: skip

    async def append(tick: int) -> None:
        meta = Metadata(project_id=f"p{tick % projects}") if projects else Metadata()
        events = [
            NewEvent(type="BenchWidgetChanged", data=payload(tick * per_append + i), metadata=meta)
            for i in range(per_append)
        ]
        result = await store.append(StreamWrite(f"widget-{tick % 100}", events))
        positions.append(result.position)

    started = time.monotonic()
    in_flight: set[asyncio.Task[None]] = set()
    tick = 0
    while time.monotonic() - started < seconds:
        task = asyncio.create_task(append(tick))
        in_flight.add(task)
        task.add_done_callback(in_flight.discard)
        tick += 1
        delay = started + tick * interval - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
    await asyncio.gather(*in_flight)
    return tick * per_append, min(positions) - per_append + 1, max(positions)


# -- the subscribers (--client) ---------------------------------------------------------


class Counter:
    """What one client process received in the measured window."""

    def __init__(self) -> None:
        self.measuring = False
        self.events = 0
        self.messages = 0
        #: (latency of the message's oldest event, of its newest, events in it)
        self.samples: list[tuple[float, float, int]] = []
        self.seen = 0
        self.closed = 0

    def record(self, oldest: float, newest: float, count: int) -> None:
        self.events += count
        self.messages += 1
        self.seen += 1
        if len(self.samples) < MAX_SAMPLES:
            self.samples.append((oldest, newest, count))
        else:
            at = random.randrange(self.seen)
            if at < MAX_SAMPLES:
                self.samples[at] = (oldest, newest, count)


_RECORDED = b'"recorded_at":"'
_EVENTS = b'{"type":"events"'


class Subscription(asyncio.Protocol):
    """A WebSocket subscriber that splits frames and reads only what is measured."""

    def __init__(self, counter: Counter, request: bytes, ready: asyncio.Future[None]) -> None:
        self.counter, self.request, self.ready = counter, request, ready
        self.buffer = bytearray()
        self.upgraded = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        transport.write(self.request)  # type: ignore[attr-defined]

    def connection_lost(self, exc: Exception | None) -> None:
        self.counter.closed += 1
        if not self.ready.done():
            self.ready.set_exception(ConnectionError("closed before the upgrade"))

    def data_received(self, data: bytes) -> None:
        buffer = self.buffer
        buffer += data
        if not self.upgraded:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            if not buffer.startswith(b"HTTP/1.1 101"):
                self.ready.set_exception(ConnectionError(bytes(buffer[:200]).decode()))
                return
            del buffer[: end + 4]
            self.upgraded = True
            self.ready.set_result(None)
        at, size = 0, len(buffer)
        now = time.time()
        while size - at >= 2:
            length, header = buffer[at + 1] & 0x7F, 2
            if length == 126:
                if size - at < 4:
                    break
                length, header = int.from_bytes(buffer[at + 2 : at + 4], "big"), 4
            elif length == 127:
                if size - at < 10:
                    break
                length, header = int.from_bytes(buffer[at + 2 : at + 10], "big"), 10
            if size - at < header + length:
                break
            start = at + header
            at = start + length
            if self.counter.measuring and buffer.startswith(_EVENTS, start):
                self.measure(buffer, start, at, now)
        del buffer[:at]

    def measure(self, buffer: bytearray, start: int, end: int, now: float) -> None:
        """Read the message in place (no copy): its events' count, and the
        recorded times of its first and last event."""
        first = buffer.find(_RECORDED, start, end) + len(_RECORDED)
        last = buffer.rfind(_RECORDED, start, end) + len(_RECORDED)
        oldest = datetime.fromisoformat(buffer[first : buffer.index(b'"', first)].decode())
        newest = datetime.fromisoformat(buffer[last : buffer.index(b'"', last)].decode())
        count = buffer.count(_RECORDED, start, end)
        self.counter.record(now - oldest.timestamp(), now - newest.timestamp(), count)


async def clients(url: str, token: str, count: int, projects: int, first: int) -> None:
    raise_fd_limit()
    loop = asyncio.get_running_loop()
    counter = Counter()
    host, port = url.split("//", 1)[1].split(":")

    def request(index: int) -> bytes:
        query = f"?project=p{index % projects}" if projects else ""
        return (
            f"GET /events/v1/stream{query} HTTP/1.1\r\n"
            f"Host: {host}:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            f"Sec-WebSocket-Version: 13\r\nX-Auth-Token: {token}\r\n\r\n"
        ).encode()

    transports = []
    gate = asyncio.Semaphore(50)

    async def connect(index: int) -> None:
        async with gate:
            ready: asyncio.Future[None] = loop.create_future()
            transport, _ = await loop.create_connection(
                lambda: Subscription(counter, request(index), ready), host, int(port)
            )
            transports.append(transport)
            await ready

    await asyncio.gather(*(connect(first + i) for i in range(count)))
    print("connected", flush=True)
    started = cpu = 0.0
    while True:
        line = (await asyncio.to_thread(sys.stdin.readline)).strip()
        if line == "start":
            counter.measuring, started, cpu = True, time.time(), time.process_time()
        elif line == "stop" or not line:
            counter.measuring = False
            report = {
                "events": counter.events,
                "messages": counter.messages,
                "seconds": time.time() - started,
                "closed": counter.closed,
                "cpu": time.process_time() - cpu,
                "samples": counter.samples,
            }
            print(json.dumps(report), flush=True)
            break
    for transport in transports:
        transport.close()


# -- the rounds -------------------------------------------------------------------------


class Child:
    """A subprocess of this module, talked to by lines on stdin and stdout."""

    def __init__(self, process: asyncio.subprocess.Process) -> None:
        self.process = process

    @classmethod
    async def start(cls, *args: str) -> Child:
        profile = (
            ["-m", "cProfile", "-o", os.environ["BENCH_PROFILE"]]
            if ("--serve" in args and os.environ.get("BENCH_PROFILE"))
            else []
        )
        process = await asyncio.create_subprocess_exec(
            sys.executable, *profile, "-m", "bench.stream", *args,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            limit=1 << 26,
        )  # fmt: skip
        return cls(process)

    async def say(self, line: str) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write((line + "\n").encode())
        await self.process.stdin.drain()

    async def hear(self, timeout: float = 300) -> str:
        assert self.process.stdout is not None
        line = await asyncio.wait_for(self.process.stdout.readline(), timeout)
        if not line:
            raise RuntimeError(f"bench child {self.process.pid} exited")
        return line.decode().strip()

    async def stop(self) -> None:
        if self.process.returncode is None:
            with contextlib.suppress(Exception):  # it may be gone already
                await self.say("quit")
            try:
                await asyncio.wait_for(self.process.wait(), 30)
            except TimeoutError:
                self.process.send_signal(signal.SIGKILL)
                await self.process.wait()


def percentile(samples: Sequence[Sequence[float]], q: float, *, conservative: bool) -> float:
    """The ``q`` quantile of per-event latencies. A message's events were recorded
    between its oldest and newest event: they are spread evenly over that span
    or, ``conservative``, all counted at the oldest's latency."""
    latencies: list[tuple[float, float]] = []  # (latency, weight)
    for oldest, newest, count in samples:
        if conservative or count < 2:
            latencies.append((oldest, count))
            continue
        parts = min(int(count), 100)
        step = (oldest - newest) / (parts - 1)
        latencies += [(newest + i * step, count / parts) for i in range(parts)]
    latencies.sort()
    total = sum(w for _, w in latencies)
    if not total:
        return float("nan")
    target, running = q * total, 0.0
    for latency, weight in latencies:
        running += weight
        if running >= target:
            return latency
    return latencies[-1][0]


async def admin_token(url: str) -> str:
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "domain": {"id": "default"}, "password": ADMIN_PASSWORD}}},
        "scope": {"project": {"name": "admin", "domain": {"id": "default"}}}}}  # fmt: skip
    async with (
        aiohttp.ClientSession() as session,
        session.post(url + "/identity/v3/auth/tokens", json=body) as response,
    ):
        if response.status != 201:
            raise RuntimeError(f"no token: {response.status} {await response.text()}")
        return response.headers["X-Subject-Token"]


async def round_(
    server: Child, url: str, token: str, subscribers: int, args: argparse.Namespace
) -> dict[str, float]:
    procs = min(args.client_processes, subscribers)
    shares = [subscribers // procs + (1 if i < subscribers % procs else 0) for i in range(procs)]
    children = [
        await Child.start(
            "--client", "--url", url, "--token", token, "--count", str(n),
            "--projects", str(args.projects), "--first", str(sum(shares[:i])),
        )
        for i, n in enumerate(shares)
    ]  # fmt: skip
    try:
        for child in children:
            line = await child.hear()
            if line != "connected":
                raise RuntimeError(f"a client said {line!r}")
        await asyncio.sleep(0.5)
        server_cpu = cpu_seconds(server.process.pid)
        for child in children:
            await child.say("start")
        await server.say(f"append {args.rate} {args.seconds} {args.projects}")
        reply = (await server.hear()).split()
        await asyncio.sleep(0.5)  # the last events still in flight
        for child in children:
            await child.say("stop")
        reports = [json.loads(await child.hear()) for child in children]
        server_cpu = cpu_seconds(server.process.pid) - server_cpu
    finally:
        for child in children:
            await child.stop()
    appended = int(reply[1])
    events = sum(r["events"] for r in reports)
    samples = [s for r in reports for s in r["samples"]]
    return {
        "appended": appended,
        "expected": _expected(appended, subscribers, args.projects),
        "delivered": events,
        "per_second": events / args.seconds,
        "messages": sum(r["messages"] for r in reports),
        "p50_ms": percentile(samples, 0.5, conservative=False) * 1000,
        "p99_ms": percentile(samples, 0.99, conservative=False) * 1000,
        "p99_oldest_ms": percentile(samples, 0.99, conservative=True) * 1000,
        "closed": sum(r["closed"] for r in reports),
        "server_cpu": server_cpu,
        "client_cpu": sum(r["cpu"] for r in reports),
    }


def _expected(appended: int, subscribers: int, projects: int) -> int:
    """Deliveries due: each event to every subscriber, or to its project's."""
    if not projects:
        return appended * subscribers
    per_project = [subscribers // projects + (p < subscribers % projects) for p in range(projects)]
    per_event = appended / projects  # appends take turns among the projects
    return round(sum(n * per_event for n in per_project))


async def main(args: argparse.Namespace) -> None:
    raise_fd_limit()
    print(f"CPU reference: a 10M-iteration Python loop takes {cpu_reference():.2f} s", flush=True)
    with tempfile.TemporaryDirectory(prefix="cairn-bench-stream-") as tmp:
        port = free_port()
        serve_args = ["--serve", "--port", str(port), "--data-dir", str(Path(tmp) / "data")]
        server = await Child.start(*serve_args, *(["--store", args.store] if args.store else []))
        try:
            if (line := await server.hear(120)) != "ready":
                raise RuntimeError(f"the cloud said {line!r}")
            url = f"http://127.0.0.1:{port}"
            token = await admin_token(url)
            scope = (
                f"each subscriber follows one of {args.projects} projects (admin, ?project=)"
                if args.projects else "every subscriber gets every event (admin, no filter)"
            )  # fmt: skip
            print(
                f"store: {args.store or 'SQLite'}; {args.rate:g} events/s for {args.seconds:g} s "
                f"per round; {args.client_processes} client processes; {scope}", flush=True,
            )  # fmt: skip
            print(
                f"{'subscribers':>11} {'deliveries/s':>13} {'delivered':>17} {'p50 ms':>8} "
                f"{'p99 ms':>8} {'p99 old':>8} {'msgs':>8} {'cloud CPU s':>11} "
                f"{'clients CPU s':>13}"
            )
            for subscribers in args.subscribers:
                r = await round_(server, url, token, subscribers, args)
                print(
                    f"{subscribers:>11,} {r['per_second']:>13,.0f} "
                    f"{r['delivered']:>8,}/{r['expected']:<8,} {r['p50_ms']:>8.1f} "
                    f"{r['p99_ms']:>8.1f} {r['p99_oldest_ms']:>8.1f} {r['messages']:>8,} "
                    f"{r['server_cpu']:>11.1f} "
                    f"{r['client_cpu']:>13.1f}" + (f"  ({r['closed']:.0f} cut off)"
                                                   if r["closed"] else ""),
                    flush=True,
                )  # fmt: skip
        finally:
            await server.stop()
    print(f"CPU reference at the end: {cpu_reference():.2f} s (a busier machine shows here)")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m bench.stream",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--subscribers", default="1,100,1000", metavar="N,N,...",
        help="subscriber counts, one round each (default: 1,100,1000)",
    )  # fmt: skip
    parser.add_argument("--rate", type=float, default=1000.0, help="events/s appended")
    parser.add_argument("--seconds", type=float, default=10.0, help="seconds per round")
    parser.add_argument("--client-processes", type=int, default=2, metavar="N")
    parser.add_argument("--store", metavar="URL", help="event store (default: SQLite)")
    parser.add_argument(
        "--projects", type=int, default=0, metavar="K",
        help="spread events over K projects, each subscriber following one "
        "(default: 0, every subscriber gets every event)",
    )  # fmt: skip
    # the roles of the child processes
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--client", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--first", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    args.subscribers = [int(n) for n in str(args.subscribers).split(",")]
    return args


if __name__ == "__main__":
    arguments = parse_args()
    if arguments.serve:
        work: Any = serve(arguments.port, arguments.data_dir, arguments.store)
    elif arguments.client:
        work = clients(
            arguments.url, arguments.token, arguments.count, arguments.projects, arguments.first
        )
    else:
        work = main(arguments)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(work)
