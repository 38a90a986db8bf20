"""The schema migrations, and the shortcut that skips Alembic when they are applied."""

from __future__ import annotations

from pathlib import Path

from alembic.config import Config
from alembic.script import ScriptDirectory

from cairn.store.schema import SCHEMA_HEAD, _script_location, current_revision, migrate


def test_schema_head_names_the_newest_migration() -> None:
    config = Config()
    config.set_main_option("script_location", _script_location())
    assert ScriptDirectory.from_config(config).get_current_head() == SCHEMA_HEAD


async def test_sqlite_is_migrated_once_then_recognised(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'new.sqlite'}"
    assert await current_revision(url) is None
    await migrate(url)
    assert await current_revision(url) == SCHEMA_HEAD
    await migrate(url)  # already current: nothing to do, nothing fails
    assert await current_revision(url) == SCHEMA_HEAD


async def test_postgres_is_migrated_once_then_recognised(pg_database: str) -> None:
    assert await current_revision(pg_database) is None
    await migrate(pg_database)
    assert await current_revision(pg_database) == SCHEMA_HEAD
    await migrate(pg_database)
    assert await current_revision(pg_database) == SCHEMA_HEAD
