-- The monthly lists (sql/010) leave the rollup's hot path (issue 15,
-- docs/benchmarks-pipeline.md "Where the rollup's time goes": their
-- upserts were a fifth of the batch statement). A site's month is
-- *folded* once: its monthly rows are then built from its daily rows, and
-- from then on the rollup adds every delta of that month to both, as it
-- did for every month before. It folds a site's previous month when it
-- first counts one of the site's views of a later month, so the month
-- being filled (today's) is counted in the daily tables only, and the
-- monthly tables take only the rare late views of a closed month. The
-- dashboard reads a whole month from the monthly tables when it is folded
-- and from the daily rows when not (web/stats.c). Invariant: a monthly row
-- exists only for a folded (site, month), and is the sum of that month's
-- daily rows.
--
-- A fold and a batch that counts views of the same site exclude each
-- other: the fold takes the site's transaction-level advisory lock
-- (classid 7163831, objid hashtext(site_id::text) & 63) exclusively and
-- each batch takes the locks of its sites shared, before the statements
-- that read the folds. Folding is its own transaction, so a batch never
-- waits on its own fold.
CREATE TABLE monthly_folded (
    site_id UUID NOT NULL REFERENCES sites(id) ON DELETE CASCADE,
    month DATE NOT NULL CHECK (extract(day FROM month) = 1),
    folded_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (site_id, month)
);

-- Until now every month was kept in the monthly tables, each row the sum
-- of its daily rows: every month with a daily row is folded already.
INSERT INTO monthly_folded (site_id, month)
SELECT site_id, date_trunc('month', date)::date FROM daily_site_metrics
UNION SELECT site_id, month FROM monthly_page_metrics
UNION SELECT site_id, month FROM monthly_entry_page_metrics
UNION SELECT site_id, month FROM monthly_source_metrics;

GRANT SELECT, INSERT ON monthly_folded TO mochi_rollup;
GRANT DELETE ON monthly_page_metrics, monthly_entry_page_metrics, monthly_source_metrics
    TO mochi_rollup;
GRANT SELECT ON monthly_folded TO mochi_web;
