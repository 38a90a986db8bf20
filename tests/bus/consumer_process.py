"""A consumer process for the killed-consumer test: ``python -m tests.bus.consumer_process``.

It consumes a RabbitMQ queue with the crash workload, prints ``CONSUMING`` once
registered and ``TRAPPED <position>`` when it hangs in its trap, and waits
there for the SIGKILL the test sends. Logs go to stderr.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time

import structlog

from cairn.bus.ledger import Ledger
from cairn.bus.rabbitmq import RabbitMQBus
from tests.bus.crash_workload import Trap, create_effects, trapped_handler


async def main(args: argparse.Namespace) -> int:
    structlog.configure(logger_factory=structlog.PrintLoggerFactory(sys.stderr))
    ledger = await Ledger.open(args.ledger)
    await ledger.transaction(create_effects)
    bus = await RabbitMQBus.connect(args.url, exchange=args.exchange)
    trap = Trap(args.trap_position, args.trap_where)

    def on_trapped() -> None:
        print(f"TRAPPED {trap.position}", flush=True)

    handler, _ = trapped_handler(
        ledger, trap, on_trapped=on_trapped, hang_in_thread=lambda: time.sleep(3600)
    )
    consumer = await bus.consume(args.queue, args.binding, handler, prefetch=args.prefetch)
    print("CONSUMING", flush=True)
    await consumer.wait()
    print("STOPPED", flush=True)  # the test fails if it reads this
    return 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--exchange", required=True)
    parser.add_argument("--queue", required=True)
    parser.add_argument("--binding", action="append", required=True)
    parser.add_argument("--ledger", required=True)
    parser.add_argument("--prefetch", type=int, default=20)
    parser.add_argument("--trap-position", type=int, required=True)
    parser.add_argument("--trap-where", choices=["apply", "ack"], required=True)
    sys.exit(asyncio.run(main(parser.parse_args())))
