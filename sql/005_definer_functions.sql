-- SECURITY DEFINER functions that cannot be hijacked, and salts that only
-- the database can make.
--
-- 1. Every SECURITY DEFINER function pins search_path to pg_catalog, pg_temp
--    and names every table by schema. With `public` on the path, a role
--    that can create in public (every role before PostgreSQL 15) could
--    define, say, public.to_char(date, text), an exact match that wins over
--    pg_catalog's, and run code as the function's owner.
-- 2. Nobody but the owner creates in public.
-- 3. The functions belong to NOLOGIN roles that hold only what they need:
--    mochi_salt_keeper (the salts table) and mochi_partition_keeper (the
--    partitioned tables, since creating a partition takes owning its parent).
-- 4. The collector no longer inserts salts: with that grant, a leaked
--    collector password let someone store a salt of their choosing for a
--    future day, which outlived the password. mochi_ensure_salts() makes
--    yesterday's, today's and tomorrow's salts (UTC; every site-local day
--    from UTC-12 to UTC+14 falls among them) from random bytes drawn by the
--    database, and nothing else.

DO $$
DECLARE r TEXT;
BEGIN
    FOREACH r IN ARRAY ARRAY['mochi_salt_keeper', 'mochi_partition_keeper'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            BEGIN
                EXECUTE format('CREATE ROLE %I NOLOGIN', r);
            EXCEPTION WHEN duplicate_object OR unique_violation THEN
                NULL; -- created meanwhile by a migration of another database
            END;
        END IF;
    END LOOP;
END $$;

REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO mochi_salt_keeper, mochi_partition_keeper;

-- Salts.
GRANT SELECT, INSERT, DELETE ON public.salts TO mochi_salt_keeper;
REVOKE INSERT ON public.salts FROM mochi_collector;

CREATE OR REPLACE FUNCTION public.mochi_expire_salts() RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH gone AS (
        DELETE FROM public.salts WHERE day < (now() AT TIME ZONE 'UTC')::date - 1 RETURNING 1
    )
    SELECT count(*)::integer FROM gone;
$$;
ALTER FUNCTION public.mochi_expire_salts() OWNER TO mochi_salt_keeper;

-- Creates the salts of UTC yesterday, today and tomorrow that are absent;
-- returns how many it made. 32 bytes from two random UUIDs
-- (pg_strong_random; 244 random bits), so that no extension is needed.
CREATE FUNCTION public.mochi_ensure_salts() RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH today AS (SELECT (now() AT TIME ZONE 'UTC')::date AS d),
    made AS (
        INSERT INTO public.salts (day, salt)
        SELECT today.d + k, uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
        FROM today, generate_series(-1, 1) AS k
        ON CONFLICT (day) DO NOTHING
        RETURNING 1
    )
    SELECT count(*)::integer FROM made;
$$;
ALTER FUNCTION public.mochi_ensure_salts() OWNER TO mochi_salt_keeper;
REVOKE ALL ON FUNCTION public.mochi_ensure_salts() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.mochi_ensure_salts() TO mochi_collector;

-- Day partitions. The migrating role keeps altering and dropping these
-- tables (migrations, mochictl prune) through membership in the keeper.
GRANT mochi_partition_keeper TO CURRENT_USER;
GRANT CREATE ON SCHEMA public TO mochi_partition_keeper;
GRANT SELECT ON public.partitioned_tables TO mochi_partition_keeper;
DO $$
DECLARE t TEXT;
BEGIN
    FOR t IN SELECT table_name FROM public.partitioned_tables LOOP
        EXECUTE format('ALTER TABLE public.%I OWNER TO mochi_partition_keeper', t);
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION public.mochi_ensure_day(d DATE) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
    t RECORD;
    part TEXT;
    lo TEXT;
    hi TEXT;
BEGIN
    -- Serialise creators: two consumers reaching a new day at once.
    PERFORM pg_advisory_xact_lock(hashtext('mochi_ensure_day'));
    FOR t IN SELECT table_name, is_date FROM public.partitioned_tables LOOP
        part := t.table_name || '_' || to_char(d::timestamp, 'YYYYMMDD');
        CONTINUE WHEN to_regclass('public.' || quote_ident(part)) IS NOT NULL;
        IF t.is_date THEN
            lo := d::text;
            hi := (d + 1)::text;
        ELSE
            lo := to_char(d::timestamp, 'YYYY-MM-DD') || ' 00:00:00+00';
            hi := to_char((d + 1)::timestamp, 'YYYY-MM-DD') || ' 00:00:00+00';
        END IF;
        EXECUTE format('CREATE TABLE public.%I PARTITION OF public.%I FOR VALUES FROM (%L) TO (%L)',
                       part, t.table_name, lo, hi);
    END LOOP;
END $$;
ALTER FUNCTION public.mochi_ensure_day(DATE) OWNER TO mochi_partition_keeper;
