"""Fixtures shared by every test: real PostgreSQL databases and SQLite files.

PostgreSQL is not optional: it runs on every development and CI machine
(127.0.0.1:5432, trust auth). A test that needs it fails loudly when it is
missing, so a green run always means both stores were tested.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

PG_ADMIN_DSN = os.environ.get("CAIRN_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _dsn_for(database: str) -> str:
    base, _, _ = PG_ADMIN_DSN.rpartition("/")
    return f"{base}/{database}"


async def _admin() -> asyncpg.Connection:
    try:
        return await asyncpg.connect(PG_ADMIN_DSN, timeout=10)
    except (OSError, asyncpg.PostgresError) as exc:
        pytest.fail(
            f"PostgreSQL is not reachable at {PG_ADMIN_DSN} ({exc}); start it with "
            "'pg_ctlcluster --skip-systemctl-redirect 15 main start'"
        )


@contextlib.asynccontextmanager
async def fresh_pg_database() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database (its DSN); dropped afterwards."""
    name = f"cairn_test_{uuid.uuid4().hex[:12]}"
    admin = await _admin()
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
        yield _dsn_for(name)
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def pg_database() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    async with fresh_pg_database() as dsn:
        yield dsn


@pytest.fixture
def sqlite_path(tmp_path: Path) -> Path:
    return tmp_path / "cairn.sqlite"
