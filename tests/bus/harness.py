"""What the bus contract suite needs from each adapter, and shared helpers.

RabbitMQ is not optional: it runs on every development and CI machine
(``amqp://guest:guest@127.0.0.1:5672/``, or ``CAIRN_TEST_AMQP_URL``). When it is
unreachable the tests that need it fail loudly, so a green run always means
both adapters were tested.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import os
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import aio_pika
import pytest

from cairn.bus.inprocess import InProcessBus
from cairn.bus.ledger import Ledger
from cairn.bus.port import Bus, BusUnavailable, Consumer, Delivery
from cairn.bus.rabbitmq import RabbitMQBus
from cairn.events import Metadata, RecordedEvent
from cairn.events.envelope import encode_metadata
from tests.bus.crash_workload import Killed, Trap, create_effects, trapped_handler

AMQP_URL = os.environ.get("CAIRN_TEST_AMQP_URL", "amqp://guest:guest@127.0.0.1:5672/")
REPO = Path(__file__).resolve().parents[2]
#: Upper bound of every wait in these tests: generous, never a sleep.
TIMEOUT = 30.0


async def eventually(
    check: Callable[[], bool | Awaitable[bool]], *, what: str, timeout: float = TIMEOUT
) -> None:
    """Poll ``check`` until it holds; fail the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = check()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        if loop.time() > deadline:
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}")
        await asyncio.sleep(0.01)


def make_event(
    position: int, *, category: str = "server", type: str = "ServerRequested"
) -> RecordedEvent:
    """A recorded event as a store would give it (the hashes are not a real chain)."""
    return RecordedEvent(
        id=uuid.uuid4(),
        stream=f"{category}-{uuid.uuid4()}",
        version=1,
        position=position,
        type=type,
        schema_version=1,
        recorded_at=datetime.now(UTC),
        data=b'{"n": %d}' % position,
        raw_metadata=encode_metadata(
            Metadata(request_id=f"req-{position}", correlation_id=str(uuid.uuid4()))
        ),
        prev_hash=bytes(32),
        hash=uuid.uuid4().bytes * 2,
    )


def make_events(count: int, start: int = 1, **kwargs: str) -> list[RecordedEvent]:
    return [make_event(start + i, **kwargs) for i in range(count)]


class Collector:
    """A handler that records what it is given and, unless told not to, acks it."""

    def __init__(self, *, ack: bool = True) -> None:
        self.ack = ack
        self.deliveries: list[Delivery] = []

    async def __call__(self, delivery: Delivery) -> None:
        self.deliveries.append(delivery)
        if self.ack:
            await delivery.ack()

    @property
    def positions(self) -> list[int]:
        return [d.event.position for d in self.deliveries]

    async def wait_for(self, count: int, timeout: float = TIMEOUT) -> None:
        await eventually(
            lambda: len(self.deliveries) >= count,
            what=f"{count} deliveries (got {len(self.deliveries)})",
            timeout=timeout,
        )


#: Kills a trapped consumer the way its process would die.
Kill = Callable[[], Awaitable[None]]


@dataclass
class BusHarness:
    """One adapter under test: the bus, unique names, and a way to kill a consumer."""

    kind: str
    bus: Bus
    exchange: str = ""
    queues: list[str] = field(default_factory=list)

    def queue(self, purpose: str) -> str:
        name = f"cairn.test.{purpose}.{uuid.uuid4().hex[:8]}"
        self.queues.append(name)
        return name

    async def open_bus(self) -> Bus:
        """Another client of the same bus, as another process would have."""
        raise NotImplementedError

    async def start_trapped_consumer(
        self, queue: str, bindings: list[str], ledger_path: Path, trap: Trap
    ) -> Kill:
        """Run the crash workload on ``queue`` until it hangs in ``trap``; return
        how to kill it."""
        raise NotImplementedError

    async def close(self) -> None:
        await self.bus.close()


class InProcessHarness(BusHarness):
    """In-process, "killing" a consumer is :meth:`Consumer.abort` (what a dying
    process does to its tasks); a transaction caught mid-way is rolled back, as
    SQLite does for a dead process."""

    async def open_bus(self) -> Bus:
        return self.bus

    async def start_trapped_consumer(
        self, queue: str, bindings: list[str], ledger_path: Path, trap: Trap
    ) -> Kill:
        loop = asyncio.get_running_loop()
        trapped = asyncio.Event()
        release = threading.Event()

        def hang_in_thread() -> None:
            if release.wait(TIMEOUT):
                raise Killed
            raise RuntimeError("the trapped consumer was never killed")

        ledger = await Ledger.open(ledger_path)
        await ledger.transaction(create_effects)
        handler, _ = trapped_handler(
            ledger,
            trap,
            on_trapped=lambda: loop.call_soon_threadsafe(trapped.set),
            hang_in_thread=hang_in_thread,
        )
        consumer = await self.bus.consume(queue, bindings, handler, prefetch=20)
        await _until_trapped(consumer, trapped)

        async def kill() -> None:
            await consumer.abort()
            release.set()
            await ledger.close()  # after the hung transaction has rolled back

        return kill


async def _until_trapped(consumer: Consumer, trapped: asyncio.Event) -> None:
    springs = asyncio.ensure_future(trapped.wait())
    ends = asyncio.ensure_future(consumer.wait())
    done, _ = await asyncio.wait({springs, ends}, timeout=TIMEOUT, return_when="FIRST_COMPLETED")
    springs.cancel()
    ends.cancel()
    await asyncio.wait({springs, ends})
    if ends in done:
        ends.result()
        pytest.fail("the trapped consumer stopped before reaching its trap")
    if springs not in done:
        pytest.fail(f"the consumer did not reach its trap within {TIMEOUT}s")


@dataclass
class RabbitMQHarness(BusHarness):
    """On RabbitMQ the trapped consumer is a real process, killed with SIGKILL."""

    processes: list[asyncio.subprocess.Process] = field(default_factory=list)

    async def open_bus(self) -> Bus:
        return await RabbitMQBus.connect(AMQP_URL, exchange=self.exchange)

    async def start_trapped_consumer(
        self, queue: str, bindings: list[str], ledger_path: Path, trap: Trap
    ) -> Kill:
        log_path = ledger_path.with_suffix(f".{trap.where}.log")
        with log_path.open("wb") as stderr:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "tests.bus.consumer_process",
                "--url",
                AMQP_URL,
                "--exchange",
                self.exchange,
                "--queue",
                queue,
                *[arg for b in bindings for arg in ("--binding", b)],
                "--ledger",
                str(ledger_path),
                "--trap-position",
                str(trap.position),
                "--trap-where",
                trap.where,
                cwd=REPO,
                stdout=asyncio.subprocess.PIPE,
                stderr=stderr,
            )
        self.processes.append(proc)
        assert proc.stdout is not None
        try:
            async with asyncio.timeout(TIMEOUT):
                while True:
                    line = (await proc.stdout.readline()).decode()
                    if line.startswith("TRAPPED"):
                        break
                    if not line or line.startswith("STOPPED"):
                        await proc.wait()
                        pytest.fail(
                            f"the consumer process ended (exit {proc.returncode}) before its "
                            f"trap:\n{log_path.read_text()}"
                        )
        except TimeoutError:
            pytest.fail(f"the consumer process did not reach its trap:\n{log_path.read_text()}")

        async def kill() -> None:
            proc.kill()  # SIGKILL: no cleanup, no flush, no goodbye to the broker
            await proc.wait()
            assert proc.stdout is not None
            await proc.stdout.read()
            # The broker hands the dead consumer's unacked messages back when it
            # notices the closed socket; wait for that, so the next consumer
            # finds them in their places.
            await eventually(
                lambda: _has_consumers(queue, 0),
                what=f"the broker to drop the killed consumer of {queue}",
            )

        return kill

    async def close(self) -> None:
        for proc in self.processes:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await super().close()
        async with raw_channel() as channel:
            for queue in self.queues:
                await channel.queue_delete(queue)
            await channel.exchange_delete(self.exchange)


async def _has_consumers(queue: str, wanted: int) -> bool:
    async with raw_channel() as channel:
        declared = await channel.declare_queue(queue, passive=True)
    return declared.declaration_result.consumer_count == wanted


@contextlib.asynccontextmanager
async def raw_channel() -> AsyncIterator[aio_pika.abc.AbstractChannel]:
    connection = await aio_pika.connect(AMQP_URL, timeout=10)
    try:
        yield await connection.channel()
    finally:
        await connection.close()


async def open_harness(kind: str) -> BusHarness:
    if kind == "inprocess":
        return InProcessHarness(kind, InProcessBus())
    exchange = f"cairn.test.{uuid.uuid4().hex[:12]}"
    try:
        bus = await RabbitMQBus.connect(AMQP_URL, exchange=exchange)
    except BusUnavailable as exc:
        pytest.fail(
            f"RabbitMQ is not reachable at {AMQP_URL} ({exc}); start it with "
            "'rabbitmq-server -detached' (or set CAIRN_TEST_AMQP_URL)"
        )
    return RabbitMQHarness(kind, bus, exchange)
