-- Site time zones (DESIGN.md "Site time zones, entries and sources"), the
-- aggregates the rollup fills by site-local day, and salts for every zone
-- from UTC-12 to UTC+14.

-- 1. sites.timezone: an IANA name, 'UTC' by default.
--
-- Valid: 'UTC', or an Area/Location name of the tz database's geographic
-- areas (Africa, America, Antarctica, Arctic, Asia, Atlantic, Australia,
-- Europe, Indian, Pacific) or Etc (Etc/GMT+12 is the one zone at UTC-12),
-- spelt exactly as pg_timezone_names lists it, so that PostgreSQL's
-- AT TIME ZONE knows it and the stored name is the canonical one.
-- Refused, although AT TIME ZONE takes them: abbreviations and POSIX-rule
-- names ('EST', 'CET', 'EST5EDT', whose rules are a simplified US or
-- European pattern, not a place's history), the tz database's deprecated
-- aliases ('US/Eastern', 'Japan', 'GB'), the system's 'posix/...' copies,
-- 'localtime', 'posixrules' and 'Factory', other spellings of a name
-- ('europe/berlin'), and POSIX strings ('<+14>-14'): a site's zone is a
-- place, whose rules the tz database keeps up to date. A trigger rather
-- than a CHECK: the list is the server's tz data, which an upgrade can
-- change, so it is not immutable.
CREATE FUNCTION public.mochi_timezone_valid(name text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT name IS NOT NULL AND octet_length(name) <= 63
       AND (name = 'UTC'
            OR (name ~ '^(Africa|America|Antarctica|Arctic|Asia|Atlantic|Australia|Europe|Indian|Pacific|Etc)/[A-Za-z0-9_+/-]+$'
                AND EXISTS (SELECT 1 FROM pg_catalog.pg_timezone_names t WHERE t.name = $1)));
$$;

CREATE FUNCTION public.mochi_sites_check_timezone() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
    IF NOT public.mochi_timezone_valid(NEW.timezone) THEN
        RAISE EXCEPTION 'invalid time zone "%"', NEW.timezone
            USING ERRCODE = 'invalid_parameter_value',
                  HINT = 'Use an IANA name such as Europe/Berlin, America/New_York, Etc/GMT+12 or UTC.';
    END IF;
    RETURN NEW;
END $$;

ALTER TABLE sites ADD COLUMN timezone text NOT NULL DEFAULT 'UTC';
CREATE TRIGGER sites_timezone_valid BEFORE INSERT OR UPDATE OF timezone ON sites
    FOR EACH ROW EXECUTE FUNCTION public.mochi_sites_check_timezone();

-- 2. The aggregates by site-local day that the rollup will fill
-- (DESIGN.md): entries and visitors per source ('' stands for "Direct /
-- none", so that it can be part of the primary key), entries per entry page.
CREATE TABLE daily_source_metrics (
    site_id UUID NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    date DATE NOT NULL,
    source TEXT NOT NULL,
    entries BIGINT NOT NULL DEFAULT 0,
    visitors BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, date, source)
);

CREATE TABLE daily_entry_page_metrics (
    site_id UUID NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    date DATE NOT NULL,
    path TEXT NOT NULL,
    entries BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, date, path)
);

GRANT SELECT, INSERT, UPDATE ON daily_source_metrics, daily_entry_page_metrics TO mochi_rollup;

-- 3. Salts for every zone. Day D is a local day somewhere from (D-1) 10:00
-- UTC (UTC+14) until (D+1) 12:00 UTC (UTC-12), so at any instant of UTC day
-- T an event's local day is T-1, T or T+1. D's salt is made from
-- (D-2) 00:00 UTC, a whole day before any zone needs it, so that a
-- collector's cache holds T+1's and T+2's salts before UTC midnight and an
-- outage of the database at midnight changes nothing. It is deleted at
-- (D+1) 13:00 UTC: one hour after D ended everywhere, the margin for the
-- clocks of collectors and database to differ and for requests in flight.
-- collector/sites.c keeps the same window in memory (common/salt.h,
-- MOCHI_SALT_KEEP_AFTER_US): change both together.

-- The oldest day whose salt must exist at `at`.
CREATE FUNCTION public.mochi_salt_keep_from(at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT ((at AT TIME ZONE 'UTC') - interval '13 hours')::date;
$$;

-- The newest day whose salt is made at `at`.
CREATE FUNCTION public.mochi_salt_make_until(at timestamptz) RETURNS date
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT (at AT TIME ZONE 'UTC')::date + 2;
$$;

-- The workers, with the instant as a parameter for tests. Only their owner
-- (and superusers) may call them: a collector that could pass an instant
-- could delete today's salt.
CREATE FUNCTION public.mochi_ensure_salts_at(at timestamptz) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH made AS (
        INSERT INTO public.salts (day, salt)
        SELECT d::date, uuid_send(gen_random_uuid()) || uuid_send(gen_random_uuid())
        FROM generate_series(public.mochi_salt_keep_from(at)::timestamp,
                             public.mochi_salt_make_until(at)::timestamp,
                             interval '1 day') AS d
        ON CONFLICT (day) DO NOTHING
        RETURNING 1
    )
    SELECT count(*)::integer FROM made;
$$;

CREATE FUNCTION public.mochi_expire_salts_at(at timestamptz) RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    WITH gone AS (
        DELETE FROM public.salts WHERE day < public.mochi_salt_keep_from(at) RETURNING 1
    )
    SELECT count(*)::integer FROM gone;
$$;

ALTER FUNCTION public.mochi_ensure_salts_at(timestamptz) OWNER TO mochi_salt_keeper;
ALTER FUNCTION public.mochi_expire_salts_at(timestamptz) OWNER TO mochi_salt_keeper;
REVOKE ALL ON FUNCTION public.mochi_ensure_salts_at(timestamptz) FROM PUBLIC;
REVOKE ALL ON FUNCTION public.mochi_expire_salts_at(timestamptz) FROM PUBLIC;

-- The entry points collectors (and mochictl prune) call, now.
CREATE OR REPLACE FUNCTION public.mochi_ensure_salts() RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT public.mochi_ensure_salts_at(now());
$$;

CREATE OR REPLACE FUNCTION public.mochi_expire_salts() RETURNS integer
LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT public.mochi_expire_salts_at(now());
$$;
