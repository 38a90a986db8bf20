"""Open a store that must already exist: the audit never creates one.

``open_store`` migrates (creates) a missing schema, which is right for
``cairn up`` and wrong for an auditor who mistyped ``--data-dir``: that should
be an error that names the place looked at, not a new empty log that
verifies perfectly.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from cairn.config import redact_url
from cairn.errors import CairnError
from cairn.store import EventStore, open_store
from cairn.store.schema import current_revision


class NoStore(CairnError):
    """There is no Cairn event store where the settings point."""


async def open_existing(url: str) -> EventStore:
    if url.lower().startswith("sqlite:///"):
        path = Path(url.split(":///", 1)[1])
        if not await asyncio.to_thread(path.is_file):
            raise NoStore(f"no event store at {path} (check --data-dir or --store)")
    if await current_revision(url) is None:
        raise NoStore(
            f"no Cairn event store at {redact_url(url)}: the database is unreachable "
            "or holds no Cairn schema (check --store)"
        )
    return await open_store(url)
