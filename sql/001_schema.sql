-- Mochi schema, version 1. Applied once by `mochictl migrate`, inside one
-- transaction, recorded in schema_migrations.
--
-- Days are UTC dates. Raw and per-event state is partitioned by UTC day so
-- that retention drops whole partitions (mochictl prune) instead of deleting
-- rows; mochi_ensure_day() creates a day's partitions on demand.

CREATE TABLE sites (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    name TEXT NOT NULL CHECK (name <> ''),
    domain TEXT NOT NULL CHECK (domain <> '' AND domain = lower(domain)),
    tracking_key TEXT NOT NULL UNIQUE CHECK (tracking_key ~ '^[A-Za-z0-9_-]{16,64}$'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- One random 32-byte salt per UTC day for the visitor hash. Collectors
-- insert-if-absent then read back, so all of them hash alike; rows older
-- than yesterday are deleted, after which no stored hash can be linked back
-- to an address.
CREATE TABLE salts (
    day DATE PRIMARY KEY,
    salt BYTEA NOT NULL CHECK (octet_length(salt) = 32),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- Deletes the salts older than yesterday (UTC); returns how many.
CREATE FUNCTION mochi_expire_salts() RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = public, pg_temp AS $$
    WITH gone AS (
        DELETE FROM salts WHERE day < (now() AT TIME ZONE 'UTC')::date - 1 RETURNING 1
    )
    SELECT count(*)::integer FROM gone;
$$;

-- Raw events, one row per distinct page view (site_id, dedupe key, minute).
-- The primary key includes the partition key, as PostgreSQL requires.
CREATE TABLE page_view_events (
    id BIGSERIAL NOT NULL,
    site_id UUID NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    referrer TEXT,
    visitor_hash TEXT NOT NULL,
    occurred_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (id, occurred_at)
) PARTITION BY RANGE (occurred_at);
CREATE INDEX page_view_events_site_time ON page_view_events (site_id, occurred_at);

-- The consumer's dedupe state: a key present here has its raw event stored
-- (both are written in one transaction).
CREATE TABLE ingestion_dedupe (
    site_id UUID NOT NULL,
    dedupe_key TEXT NOT NULL,
    occurred_minute TIMESTAMPTZ NOT NULL,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, dedupe_key, occurred_minute)
) PARTITION BY RANGE (occurred_minute);

-- The rollup's own exactly-once state, kept apart from the consumer's so
-- that neither waits on the other's row locks and each side is idempotent
-- on its own: a page view present here has been added to the aggregates.
CREATE TABLE rollup_counted (
    site_id UUID NOT NULL,
    dedupe_key TEXT NOT NULL,
    occurred_minute TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (site_id, dedupe_key, occurred_minute)
) PARTITION BY RANGE (occurred_minute);

-- Visitors already counted in unique_visitors, per site and day.
CREATE TABLE daily_visitors (
    site_id UUID NOT NULL,
    date DATE NOT NULL,
    visitor_hash TEXT NOT NULL,
    PRIMARY KEY (site_id, date, visitor_hash)
) PARTITION BY RANGE (date);

CREATE TABLE daily_site_metrics (
    site_id UUID NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    date DATE NOT NULL,
    page_views BIGINT NOT NULL DEFAULT 0,
    unique_visitors BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, date)
);

CREATE TABLE daily_page_metrics (
    site_id UUID NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    date DATE NOT NULL,
    path TEXT NOT NULL,
    page_views BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, date, path)
);

-- The tables partitioned by day, and how their partitions are named.
CREATE TABLE partitioned_tables (
    table_name TEXT PRIMARY KEY,
    is_date BOOLEAN NOT NULL -- partition key is a DATE (else a UTC timestamptz)
);
INSERT INTO partitioned_tables VALUES
    ('page_view_events', false),
    ('ingestion_dedupe', false),
    ('rollup_counted', false),
    ('daily_visitors', true);

-- Creates the partitions of UTC day d for every partitioned table (a no-op
-- for those that exist). SECURITY DEFINER so that the pipeline's roles can
-- call it without owning the tables. Call it outside a transaction that has
-- written to the tables: creating a partition locks its parent.
CREATE FUNCTION mochi_ensure_day(d DATE) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    t RECORD;
    part TEXT;
    lo TEXT;
    hi TEXT;
BEGIN
    -- Serialise creators: two consumers reaching a new day at once.
    PERFORM pg_advisory_xact_lock(hashtext('mochi_ensure_day'));
    FOR t IN SELECT table_name, is_date FROM partitioned_tables LOOP
        part := t.table_name || '_' || to_char(d, 'YYYYMMDD');
        CONTINUE WHEN to_regclass(part) IS NOT NULL;
        IF t.is_date THEN
            lo := d::text;
            hi := (d + 1)::text;
        ELSE
            lo := to_char(d, 'YYYY-MM-DD') || ' 00:00:00+00';
            hi := to_char(d + 1, 'YYYY-MM-DD') || ' 00:00:00+00';
        END IF;
        EXECUTE format('CREATE TABLE %I PARTITION OF %I FOR VALUES FROM (%L) TO (%L)',
                       part, t.table_name, lo, hi);
    END LOOP;
END $$;

-- Days whose partitions exist, per table, for operators and prune.
CREATE VIEW day_partitions AS
SELECT p.table_name,
       to_date(right(c.relname, 8), 'YYYYMMDD') AS day,
       c.relname AS partition_name
FROM partitioned_tables p
JOIN pg_inherits i ON i.inhparent = p.table_name::regclass
JOIN pg_class c ON c.oid = i.inhrelid
WHERE c.relname ~ '_[0-9]{8}$';

SELECT mochi_ensure_day(d::date)
FROM generate_series((now() AT TIME ZONE 'UTC')::date - 1,
                     (now() AT TIME ZONE 'UTC')::date + 2, interval '1 day') AS d;
