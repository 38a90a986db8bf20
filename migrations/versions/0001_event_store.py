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
    # One call appends a whole batch in the statement's own transaction (one
    # round trip). The caller planned the rows (versions, positions, hash
    # chain) assuming the log's head is p_head with hash p_head_hash (the hash
    # too: another writer's batch may end at the same position) and each stream in p_streams is
    # at p_versions; under the writer lock the function checks both and, only
    # if they hold, inserts the rows and NOTIFYs once. Either way it returns
    # the real head and versions, so a caller whose assumptions were stale (an
    # other process wrote) re-plans and calls again.
    # The pessimistic path, for a writer whose assumptions keep being stale:
    # inside its own transaction it takes the writer lock first and reads the
    # truth, then plans and calls cairn_append (the lock is re-entrant).
    f"""
    CREATE FUNCTION cairn_locked_head(p_streams text[])
    RETURNS TABLE (head_position bigint, head_hash bytea, versions bigint[])
    LANGUAGE plpgsql VOLATILE AS $$
    BEGIN
        PERFORM pg_advisory_xact_lock({APPEND_LOCK_KEY});
        RETURN QUERY
            SELECT coalesce(max(e.position), 0),
                   coalesce((SELECT e2.hash FROM events e2 ORDER BY e2.position DESC LIMIT 1),
                            '\\x{"00" * 32}'::bytea),
                   (SELECT array_agg(coalesce((SELECT max(e3.version) FROM events e3
                                               WHERE e3.stream = s), 0) ORDER BY i)
                    FROM unnest(p_streams) WITH ORDINALITY AS t(s, i))
            FROM (SELECT position FROM events ORDER BY position DESC LIMIT 1) AS e;
    END
    $$
    """,
    f"""
    CREATE FUNCTION cairn_append(
        p_head bigint, p_head_hash bytea, p_streams text[], p_versions bigint[],
        p_ids uuid[], p_row_streams text[], p_row_versions bigint[], p_positions bigint[],
        p_types text[], p_schema int[], p_recorded_at timestamptz, p_data bytea[],
        p_meta bytea[], p_prev bytea[], p_hash bytea[])
    RETURNS TABLE (applied boolean, head_position bigint, head_hash bytea, versions bigint[])
    LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
        hp bigint;
        hh bytea;
        actual bigint[];
    BEGIN
        PERFORM pg_advisory_xact_lock({APPEND_LOCK_KEY});
        SELECT e.position, e.hash INTO hp, hh FROM events e ORDER BY e.position DESC LIMIT 1;
        hp := coalesce(hp, 0);
        hh := coalesce(hh, '\\x{"00" * 32}'::bytea);
        SELECT array_agg(coalesce((SELECT max(e.version) FROM events e WHERE e.stream = s), 0)
                         ORDER BY i)
          INTO actual FROM unnest(p_streams) WITH ORDINALITY AS t(s, i);
        IF hp <> p_head OR hh <> p_head_hash OR actual IS DISTINCT FROM p_versions THEN
            RETURN QUERY SELECT false, hp, hh, actual;
            RETURN;
        END IF;
        IF coalesce(array_length(p_ids, 1), 0) > 0 THEN
            INSERT INTO events (id, stream, version, position, type, schema_version,
                                recorded_at, data, metadata, prev_hash, hash)
            SELECT i, s, v, p, t, sv, p_recorded_at, d, m, ph, h
            FROM unnest(p_ids, p_row_streams, p_row_versions, p_positions, p_types, p_schema,
                        p_data, p_meta, p_prev, p_hash) AS r(i, s, v, p, t, sv, d, m, ph, h);
            PERFORM pg_notify('cairn_events', p_positions[array_length(p_positions, 1)]::text);
        END IF;
        RETURN QUERY SELECT true, hp, hh, actual;
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
        op.execute("DROP FUNCTION cairn_append")
        op.execute("DROP FUNCTION cairn_locked_head")
    for table in ("projection_snapshots", "projection_checkpoints", "events"):
        op.execute(f"DROP TABLE {table}")
