"""The event log, projection checkpoints and snapshots.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# The advisory lock every appender holds for its transaction: it makes commit
# order equal position order across processes (see docs/adr/0002).
APPEND_LOCK_KEY = 0x636169726E  # "cairn"

POSTGRES = [
    """
    CREATE TABLE events (
        position       bigint      PRIMARY KEY,
        id             uuid        NOT NULL UNIQUE,
        stream         text        NOT NULL,
        version        bigint      NOT NULL,
        type           text        NOT NULL,
        schema_version integer     NOT NULL,
        recorded_at    timestamptz NOT NULL,
        data           bytea       NOT NULL,
        metadata       bytea       NOT NULL,
        prev_hash      bytea       NOT NULL,
        hash           bytea       NOT NULL,
        CONSTRAINT events_stream_version UNIQUE (stream, version)
    )
    """,
    # One round trip opens an append: take the writer lock, then (with a fresh
    # snapshot, as each statement of a volatile function takes one) read the
    # log's head and the current version of every stream the batch touches.
    f"""
    CREATE FUNCTION cairn_begin_append(p_streams text[])
    RETURNS TABLE (head_position bigint, head_hash bytea, stream text, version bigint)
    LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
        hp bigint := 0;
        hh bytea := '\\x{"00" * 32}'::bytea;
    BEGIN
        PERFORM pg_advisory_xact_lock({APPEND_LOCK_KEY});
        SELECT e.position, e.hash INTO hp, hh FROM events e ORDER BY e.position DESC LIMIT 1;
        RETURN QUERY
            SELECT coalesce(hp, 0::bigint), coalesce(hh, '\\x{"00" * 32}'::bytea), s,
                   coalesce((SELECT max(e.version) FROM events e WHERE e.stream = s), 0::bigint)
            FROM unnest(p_streams) AS s;
    END
    $$
    """,
    """
    CREATE TABLE projection_checkpoints (
        name       text        PRIMARY KEY,
        position   bigint      NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT now()
    )
    """,
    """
    CREATE TABLE projection_snapshots (
        name     text        PRIMARY KEY,
        version  integer     NOT NULL,
        position bigint      NOT NULL,
        state    bytea       NOT NULL,
        taken_at timestamptz NOT NULL DEFAULT now()
    )
    """,
]

SQLITE = [
    # position is the rowid: SQLite has one writer at a time, so rowid order is
    # commit order. recorded_at is whole microseconds since the epoch, UTC.
    """
    CREATE TABLE events (
        position       INTEGER PRIMARY KEY,
        id             BLOB    NOT NULL UNIQUE,
        stream         TEXT    NOT NULL,
        version        INTEGER NOT NULL,
        type           TEXT    NOT NULL,
        schema_version INTEGER NOT NULL,
        recorded_at    INTEGER NOT NULL,
        data           BLOB    NOT NULL,
        metadata       BLOB    NOT NULL,
        prev_hash      BLOB    NOT NULL,
        hash           BLOB    NOT NULL,
        UNIQUE (stream, version)
    )
    """,
    """
    CREATE TABLE projection_checkpoints (
        name       TEXT    PRIMARY KEY,
        position   INTEGER NOT NULL,
        updated_at INTEGER NOT NULL
    )
    """,
    """
    CREATE TABLE projection_snapshots (
        name     TEXT    PRIMARY KEY,
        version  INTEGER NOT NULL,
        position INTEGER NOT NULL,
        state    BLOB    NOT NULL,
        taken_at INTEGER NOT NULL
    )
    """,
]


def upgrade() -> None:
    statements = POSTGRES if op.get_bind().dialect.name == "postgresql" else SQLITE
    for statement in statements:
        op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION cairn_begin_append(text[])")
    for table in ("projection_snapshots", "projection_checkpoints", "events"):
        op.execute(f"DROP TABLE {table}")
