"""Bring a store's schema up to date with the Alembic migrations in ``migrations/``."""

from __future__ import annotations

import asyncio
from pathlib import Path

import structlog

log = structlog.get_logger(__name__)


def _script_location() -> str:
    import cairn.migrations

    return str(Path(cairn.migrations.__file__).parent)


def migrate_sync(url: str) -> None:
    """Upgrade the database at ``url`` (``sqlite:///...`` or ``postgresql://...``)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", _script_location())
    # ConfigParser interpolation: a literal % in a password must be doubled.
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    command.upgrade(config, "head")


async def migrate(url: str) -> None:
    """Run the migrations in a worker thread (Alembic is synchronous)."""
    await asyncio.to_thread(migrate_sync, url)
    log.debug("schema up to date", store=_redact(url))


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" not in rest:
        return url
    creds, _, host = rest.rpartition("@")
    user = creds.split(":", 1)[0]
    return f"{scheme}{sep}{user}:***@{host}"
