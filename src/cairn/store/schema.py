"""Bring a store's schema up to date with the Alembic migrations in ``migrations/``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from pathlib import Path

import structlog

from cairn.config import redact_url

log = structlog.get_logger(__name__)


def asyncpg_dsn(url: str) -> str:
    """asyncpg takes ``postgresql://``; accept SQLAlchemy's ``+asyncpg`` form too."""
    return url.replace("postgresql+asyncpg://", "postgresql://", 1)


#: The events table's columns in RecordedEvent's field order, so a row builds
#: an event positionally and an event inserts as a row.
EVENT_COLUMNS = (
    "id, stream, version, position, type, schema_version, recorded_at, data, metadata, "
    "prev_hash, hash"
)


def _script_location() -> str:
    import cairn.migrations

    return str(Path(cairn.migrations.__file__).parent)


def migrate_sync(url: str) -> None:
    """Upgrade the database at ``url`` (``sqlite:///...`` or ``postgresql://...``)."""
    from alembic import command
    from alembic.config import Config

    # Alembic narrates each step at INFO; Cairn logs the outcome itself.
    logging.getLogger("alembic").setLevel(logging.WARNING)

    config = Config()
    config.set_main_option("script_location", _script_location())
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


#: The newest migration's revision. When a database is already there, Alembic
#: (half a second to import and run) is skipped; a test keeps this in step
#: with migrations/versions/.
SCHEMA_HEAD = "0002"


async def migrate(url: str) -> None:
    """Bring the schema up to date; Alembic runs in a worker thread when needed."""
    if await current_revision(url) == SCHEMA_HEAD:
        return
    await asyncio.to_thread(migrate_sync, url)
    log.info("schema migrated", store=redact_url(url), revision=SCHEMA_HEAD)


async def current_revision(url: str) -> str | None:
    """The revision Alembic recorded in the database, or None (new or unreadable)."""
    if url.startswith("sqlite:///"):
        return await asyncio.to_thread(_sqlite_revision, Path(url.split(":///", 1)[1]))
    import asyncpg

    try:
        conn = await asyncpg.connect(asyncpg_dsn(url))
    except (OSError, asyncpg.PostgresError):
        return None  # Alembic will report the real problem.
    try:
        value = await conn.fetchval("SELECT version_num FROM alembic_version")
    except asyncpg.PostgresError:
        return None
    finally:
        await conn.close()
    return str(value) if value is not None else None


def _sqlite_revision(path: Path) -> str | None:
    import sqlite3

    if not path.exists():
        return None
    try:
        with contextlib.closing(sqlite3.connect(path, timeout=10)) as conn:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
    except sqlite3.Error:
        return None
    return str(row[0]) if row else None
