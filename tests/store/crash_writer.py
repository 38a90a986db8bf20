"""A writer process for the crash test: appends forever from 16 concurrent
tasks and prints each acknowledged append's stream, one per line, flushed."""

from __future__ import annotations

import asyncio
import sys

from cairn.events import NewEvent
from cairn.logs import configure
from cairn.store import StreamWrite, open_store


async def main(url: str) -> None:
    configure("warning")  # logs go to stderr; stdout carries the acknowledgements
    store = await open_store(url)
    print("ready", flush=True)

    async def writer(w: int) -> None:
        n = 0
        while True:
            stream = f"crash-{w}x{n}"
            ticks = [NewEvent(type="Tick", data=b"{}"), NewEvent(type="Tick", data=b"{}")]
            await store.append(StreamWrite(stream, ticks))
            sys.stdout.write(stream + "\n")
            sys.stdout.flush()
            n += 1

    await asyncio.gather(*(writer(w) for w in range(16)))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
