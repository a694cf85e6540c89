-- Monthly aggregates of the dashboard's lists (issue 14): a 12-month range
-- sums 11 whole months of monthly rows and the partial months' daily rows
-- instead of up to 365 days of daily rows (docs/benchmarks-web.md).
--
-- Keyed by the site-local month (its first day), the month of the local
-- day the daily rows are keyed by. Each monthly row is exactly the sum of
-- the daily rows of its month: the rollup adds the same deltas to both in
-- the statement that counts a batch (rollup/rollup.c, apply_sql), and
-- `mochictl replay` subtracts the replayed days' daily rows from them
-- before deleting those days, in its transaction. A row may stay at zero
-- (a source's credit moved away, or its days replayed): readers skip
-- keys whose sums are zero, as they do for daily rows.
CREATE TABLE monthly_page_metrics (
    site_id UUID NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    month DATE NOT NULL CHECK (extract(day FROM month) = 1),
    path TEXT NOT NULL,
    page_views BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, month, path)
);

CREATE TABLE monthly_entry_page_metrics (
    site_id UUID NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    month DATE NOT NULL CHECK (extract(day FROM month) = 1),
    path TEXT NOT NULL,
    entries BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, month, path)
);

CREATE TABLE monthly_source_metrics (
    site_id UUID NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    month DATE NOT NULL CHECK (extract(day FROM month) = 1),
    source TEXT NOT NULL,
    entries BIGINT NOT NULL DEFAULT 0,
    visitors BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (site_id, month, source)
);

INSERT INTO monthly_page_metrics (site_id, month, path, page_views)
SELECT site_id, date_trunc('month', date)::date, path, sum(page_views)
FROM daily_page_metrics GROUP BY 1, 2, 3;

INSERT INTO monthly_entry_page_metrics (site_id, month, path, entries)
SELECT site_id, date_trunc('month', date)::date, path, sum(entries)
FROM daily_entry_page_metrics GROUP BY 1, 2, 3;

INSERT INTO monthly_source_metrics (site_id, month, source, entries, visitors)
SELECT site_id, date_trunc('month', date)::date, source, sum(entries), sum(visitors)
FROM daily_source_metrics GROUP BY 1, 2, 3;

GRANT SELECT, INSERT, UPDATE ON monthly_page_metrics, monthly_entry_page_metrics,
    monthly_source_metrics TO mochi_rollup;
GRANT SELECT ON monthly_page_metrics, monthly_entry_page_metrics, monthly_source_metrics
    TO mochi_web;
