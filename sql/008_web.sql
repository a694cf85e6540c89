-- mochi-web (DESIGN.md "The dashboard and stats API"): users and their
-- roles per site, sessions, API tokens, share links, the rollup's progress
-- for the freshness watermark, and the mochi_web role, which reads the
-- aggregates and the auth tables and sees raw events only as counts.

DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mochi_web') THEN
        BEGIN
            CREATE ROLE mochi_web LOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL; -- created meanwhile by a migration of another database
        END;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mochi_raw_counter') THEN
        BEGIN
            CREATE ROLE mochi_raw_counter NOLOGIN;
        EXCEPTION WHEN duplicate_object OR unique_violation THEN
            NULL;
        END;
    END IF;
    EXECUTE format('GRANT CONNECT ON DATABASE %I TO mochi_web', current_database());
END $$;
GRANT USAGE ON SCHEMA public TO mochi_web, mochi_raw_counter;

-- Users sign in with an e-mail address and a password, stored only as
-- libsodium's Argon2id string (crypto_pwhash_str: algorithm, parameters,
-- salt and hash in one text).
CREATE TABLE users (
    id BIGSERIAL PRIMARY KEY,
    email TEXT NOT NULL UNIQUE
        CHECK (octet_length(email) <= 254 AND email = lower(email)
               AND email ~ '^[^@[:space:][:cntrl:]]+@[^@[:space:][:cntrl:]]+$'),
    password_hash TEXT NOT NULL CHECK (password_hash LIKE '$argon2id$%'),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

-- What a user may see: a viewer reads a site's numbers; an admin also
-- manages its share links and tokens in the dashboard.
CREATE TABLE site_roles (
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    site_id UUID NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    role TEXT NOT NULL CHECK (role IN ('viewer', 'admin')),
    PRIMARY KEY (user_id, site_id)
);
CREATE INDEX site_roles_site ON site_roles (site_id);

-- A session's cookie carries 32 random bytes; the table holds only their
-- BLAKE2b-256 hash, so a copy of the table opens no session. The CSRF
-- token is random too, and every POST must echo it.
CREATE TABLE sessions (
    token_hash BYTEA PRIMARY KEY CHECK (octet_length(token_hash) = 32),
    user_id BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    csrf_token TEXT NOT NULL CHECK (octet_length(csrf_token) >= 32),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX sessions_user ON sessions (user_id);
CREATE INDEX sessions_expiry ON sessions (expires_at);

-- API tokens, one site each, shown once when created and stored as their
-- BLAKE2b-256 hash.
CREATE TABLE api_tokens (
    id BIGSERIAL PRIMARY KEY,
    site_id UUID NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    name TEXT NOT NULL CHECK (name <> '' AND octet_length(name) <= 100),
    token_hash BYTEA NOT NULL UNIQUE CHECK (octet_length(token_hash) = 32),
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_used_at TIMESTAMPTZ,
    revoked_at TIMESTAMPTZ
);

-- Read-only public links /share/{slug}; the slug is 128 random bits.
CREATE TABLE shares (
    slug TEXT PRIMARY KEY CHECK (slug ~ '^[A-Za-z0-9_-]{22,64}$'),
    site_id UUID NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    created_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    revoked_at TIMESTAMPTZ
);
CREATE INDEX shares_site ON shares (site_id);

-- The rollup's progress per partition, written in the transaction of each
-- batch (and when it reaches a partition's end), so that it never claims
-- more than the aggregates hold. Every message below next_offset is
-- counted; applied_until is the broker timestamp of the last one counted;
-- end_offset is the log end the rollup last saw, and end_seen_at when it
-- saw next_offset reach it.
CREATE TABLE rollup_progress (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL CHECK (partition >= 0),
    next_offset BIGINT NOT NULL CHECK (next_offset >= 0),
    applied_until TIMESTAMPTZ,
    end_offset BIGINT,
    end_seen_at TIMESTAMPTZ,
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
GRANT SELECT, INSERT, UPDATE ON rollup_progress TO mochi_rollup;

-- Visitors and page views of the last `minutes` minutes (1..60) of one
-- site: the only way mochi_web reads raw events, as two counts. Owned by a
-- role that can do nothing else.
GRANT SELECT ON public.page_view_events TO mochi_raw_counter;
CREATE FUNCTION public.mochi_recent_counts(site UUID, minutes INTEGER)
RETURNS TABLE (visitors BIGINT, page_views BIGINT)
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
    SELECT count(DISTINCT e.visitor_hash), count(*)
    FROM public.page_view_events e
    WHERE e.site_id = site
      AND e.occurred_at > now() - make_interval(mins => least(greatest(minutes, 1), 60));
$$;
ALTER FUNCTION public.mochi_recent_counts(UUID, INTEGER) OWNER TO mochi_raw_counter;
REVOKE ALL ON FUNCTION public.mochi_recent_counts(UUID, INTEGER) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.mochi_recent_counts(UUID, INTEGER) TO mochi_web;

-- mochi_web: reads sites, the aggregates, the auth tables and the
-- rollup's progress; keeps sessions and the tokens' last use. No salts,
-- no raw events, no writes to anything the pipeline counts.
GRANT SELECT ON sites, daily_site_metrics, daily_page_metrics, daily_source_metrics,
    daily_entry_page_metrics, users, site_roles, shares, api_tokens, rollup_progress
    TO mochi_web;
GRANT SELECT, INSERT, UPDATE, DELETE ON sessions TO mochi_web;
GRANT UPDATE (last_used_at) ON api_tokens TO mochi_web;
