"""Event times from the database's clock, never going backwards along positions.

``cairn_append`` now refuses (``applied`` false, as for a stale head) a batch
whose ``recorded_at`` is earlier than the head event's, or further than
``p_max_skew`` seconds from the database's clock; it and ``cairn_locked_head``
also answer the head's time and the database's ``clock_timestamp()``, so a
writer plans again with a time the database gave it. The chain hash covers
``recorded_at`` and is made by the writer (events/chain.py is its only
layout), so the database checks the time rather than choosing it.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-03
"""

import importlib.util
from pathlib import Path

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_LOCK_KEY = 0x636169726E  # "cairn", as in 0001
ZERO = "\\x" + "00" * 32

POSTGRES = [
    "DROP FUNCTION cairn_append",
    "DROP FUNCTION cairn_locked_head",
    f"""
    CREATE FUNCTION cairn_locked_head(p_streams text[])
    RETURNS TABLE (head_position bigint, head_hash bytea, versions bigint[],
                   head_time timestamptz, db_time timestamptz)
    LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
        hp bigint;
        hh bytea;
        ht timestamptz;
    BEGIN
        PERFORM pg_advisory_xact_lock({APPEND_LOCK_KEY});
        SELECT e.position, e.hash, e.recorded_at INTO hp, hh, ht
          FROM events e ORDER BY e.position DESC LIMIT 1;
        RETURN QUERY
            SELECT coalesce(hp, 0), coalesce(hh, '{ZERO}'::bytea),
                   (SELECT array_agg(coalesce((SELECT max(e3.version) FROM events e3
                                               WHERE e3.stream = s), 0) ORDER BY i)
                    FROM unnest(p_streams) WITH ORDINALITY AS t(s, i)),
                   ht, clock_timestamp();
    END
    $$
    """,
    f"""
    CREATE FUNCTION cairn_append(
        p_head bigint, p_head_hash bytea, p_streams text[], p_versions bigint[],
        p_ids uuid[], p_row_streams text[], p_row_versions bigint[], p_positions bigint[],
        p_types text[], p_schema int[], p_recorded_at timestamptz, p_data bytea[],
        p_meta bytea[], p_prev bytea[], p_hash bytea[], p_max_skew double precision)
    RETURNS TABLE (applied boolean, head_position bigint, head_hash bytea, versions bigint[],
                   head_time timestamptz, db_time timestamptz)
    LANGUAGE plpgsql VOLATILE AS $$
    DECLARE
        hp bigint;
        hh bytea;
        ht timestamptz;
        actual bigint[];
        clock timestamptz;
    BEGIN
        PERFORM pg_advisory_xact_lock({APPEND_LOCK_KEY});
        SELECT e.position, e.hash, e.recorded_at INTO hp, hh, ht
          FROM events e ORDER BY e.position DESC LIMIT 1;
        hp := coalesce(hp, 0);
        hh := coalesce(hh, '{ZERO}'::bytea);
        SELECT array_agg(coalesce((SELECT max(e.version) FROM events e WHERE e.stream = s), 0)
                         ORDER BY i)
          INTO actual FROM unnest(p_streams) WITH ORDINALITY AS t(s, i);
        clock := clock_timestamp();
        IF hp <> p_head OR hh <> p_head_hash OR actual IS DISTINCT FROM p_versions
           OR p_recorded_at < ht
           OR abs(extract(epoch FROM p_recorded_at - clock)) > p_max_skew THEN
            RETURN QUERY SELECT false, hp, hh, actual, ht, clock;
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
        RETURN QUERY SELECT true, hp, hh, actual, ht, clock;
    END
    $$
    """,
]


def _first() -> list[str]:
    path = Path(__file__).with_name("0001_event_store.py")
    spec = importlib.util.spec_from_file_location("cairn_migration_0001", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [s for s in module.POSTGRES if "CREATE FUNCTION" in s]


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for statement in POSTGRES:
            op.execute(statement)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION cairn_append")
        op.execute("DROP FUNCTION cairn_locked_head")
        for statement in _first():
            op.execute(statement)
