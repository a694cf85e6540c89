-- The dashboard's lists over days (issue 14, docs/benchmarks-web.md): a
-- 30-day range, and the partial months around a longer range's whole
-- months (sql/010), sum one row per key and day. The primary key
-- (site_id, date, key) finds the rows but not their numbers, so each row
-- was read from the heap; these indexes hold the numbers too, for an
-- index-only scan. The rollup pays one more index entry per row it
-- upserts (measured in docs/benchmarks-web.md). Sources need none: a day
-- has few of them.
CREATE INDEX daily_page_metrics_covering ON daily_page_metrics (site_id, date)
    INCLUDE (path, page_views);
CREATE INDEX daily_entry_page_metrics_covering ON daily_entry_page_metrics (site_id, date)
    INCLUDE (path, entries);
