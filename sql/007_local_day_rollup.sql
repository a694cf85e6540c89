-- The rollup counts by site-local day (DESIGN.md "Site time zones, entries
-- and sources"): every event carries its day (PageView v2; a v1 event's is
-- its UTC date), and the rollup's state learns what replaying and crediting
-- sources by that day need.

-- 1. rollup_counted remembers each counted page view's day, so that
-- `mochictl replay --from F --to T` can forget exactly the views of local
-- days F..T. The table stays partitioned by UTC minute (its retention is
-- the dedupe retention, an age of occurred_at); a view of local day D lies
-- in UTC days D-1..D+1, so replay deletes by day inside those partitions.
-- Rows counted before this migration were counted by UTC day.
ALTER TABLE rollup_counted ADD COLUMN day date;
UPDATE rollup_counted SET day = (occurred_minute AT TIME ZONE 'UTC')::date;
ALTER TABLE rollup_counted ALTER COLUMN day SET NOT NULL;

-- 2. daily_visitors (partitioned by the local date) remembers which view
-- earned the visitor's day for a source: the earliest of their counted
-- views (first_at, then the smaller source), and that view's source
-- ('' for "Direct / none", also when the view is not an entry). When a
-- view counted later turns out to be earlier (one collector publishes a
-- site's views in order, but several collectors interleave theirs), the
-- credit moves: replaced_source keeps the source the row credited before
-- its last move, only for the rollup's statement to read back (RETURNING
-- sees the new row only). It is NULL on a row just inserted.
-- Rows from before this migration have no first view (NULL): their days
-- get no visitors by source until they are replayed.
ALTER TABLE daily_visitors ADD COLUMN first_at timestamptz;
ALTER TABLE daily_visitors ADD COLUMN source text;
ALTER TABLE daily_visitors ADD COLUMN replaced_source text;
GRANT UPDATE ON daily_visitors TO mochi_rollup;
