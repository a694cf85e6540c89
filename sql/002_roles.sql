-- Least-privilege roles, one per program. Roles belong to the cluster, not
-- the database, so they are created only when absent (and a concurrent
-- migration of another database on the same cluster creating them first is
-- fine); grants are per database. They can log in but have no password: set one with
--   ALTER ROLE mochi_collector PASSWORD '...';
-- (or use peer/cert authentication in pg_hba.conf).

DO $$
DECLARE r TEXT;
BEGIN
    FOREACH r IN ARRAY ARRAY['mochi_collector', 'mochi_consumer', 'mochi_rollup'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I LOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created meanwhile by a migration of another database
            END;
        END IF;
    END LOOP;
END $$;

DO $$
BEGIN
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO mochi_collector, mochi_consumer, mochi_rollup',
                   current_database());
END $$;
GRANT USAGE ON SCHEMA public TO mochi_collector, mochi_consumer, mochi_rollup;

-- Collector: reads sites, reads and creates salts. Nothing else.
GRANT SELECT ON sites TO mochi_collector;
GRANT SELECT, INSERT ON salts TO mochi_collector;
-- Deleting expired salts is what makes old hashes unlinkable, so it must
-- not wait for an operator: collectors may call mochi_expire_salts(), which
-- deletes only salts older than yesterday (no DELETE grant on the table).

-- Consumer: dedupe keys and raw events.
GRANT SELECT ON sites TO mochi_consumer;
GRANT SELECT, INSERT ON ingestion_dedupe TO mochi_consumer;
GRANT SELECT, INSERT ON page_view_events TO mochi_consumer;
GRANT USAGE ON SEQUENCE page_view_events_id_seq TO mochi_consumer;

-- Rollup: its exactly-once state and the aggregates.
GRANT SELECT ON sites TO mochi_rollup;
GRANT SELECT, INSERT ON rollup_counted, daily_visitors TO mochi_rollup;
GRANT SELECT, INSERT, UPDATE ON daily_site_metrics, daily_page_metrics TO mochi_rollup;

REVOKE ALL ON FUNCTION mochi_ensure_day(DATE) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mochi_ensure_day(DATE) TO mochi_consumer, mochi_rollup;

REVOKE ALL ON FUNCTION mochi_expire_salts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION mochi_expire_salts() TO mochi_collector;
