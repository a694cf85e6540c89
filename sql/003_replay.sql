-- Replays of the rollup (mochictl replay). While a replay's days are being
-- rebuilt, the rollup accepts events of those days even when they are older
-- than the dedupe retention, which it otherwise refuses: their
-- rollup_counted rows were reset with the aggregates, so counting them again
-- is exactly what the rebuild needs.
CREATE TABLE rollup_replays (
    id BIGSERIAL PRIMARY KEY,
    from_day DATE NOT NULL,
    to_day DATE NOT NULL CHECK (to_day >= from_day),
    requested_at TIMESTAMPTZ NOT NULL DEFAULT now()
);

GRANT SELECT ON rollup_replays TO mochi_rollup;
