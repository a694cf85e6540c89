-- The freshness watermark (DESIGN.md "The dashboard and stats API"): every
-- event Kafka had accepted by counted_up_to is in the aggregates. Computed
-- from rollup_progress (sql/008), which the rollup writes in each batch's
-- transaction and, about once a second, for the partitions it has read to
-- their end:
--   per partition, T = end_seen_at when it is applied to its end
--   (next_offset >= end_offset), else applied_until (the broker timestamp
--   of the last message counted: Kafka accepted everything before it
--   earlier). At its end a partition takes the later of the two, both being
--   true, so that T does not step back when a batch reaches the end before
--   the next look-up at it;
--   counted_up_to = the minimum over the topic's partitions, NULL when no
--   partition has progress or one has no time yet (nothing is claimed for
--   it, so nothing for the topic);
--   behind = the messages between next_offset and the log end the rollup
--   last saw, summed (never negative). A stopped rollup sees no new end:
--   a reader who wants it counted as behind compares next_offset with the
--   log end Kafka reports now;
--   partitions = how many partitions have progress (0: unknown).
CREATE FUNCTION public.mochi_freshness(topic TEXT)
RETURNS TABLE (counted_up_to TIMESTAMPTZ, behind BIGINT, partitions INTEGER)
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
    SELECT CASE WHEN count(*) > 0 AND bool_and(x.t IS NOT NULL) THEN min(x.t) END,
           coalesce(sum(greatest(p.end_offset - p.next_offset, 0)), 0)::bigint,
           count(*)::integer
    FROM public.rollup_progress p
    CROSS JOIN LATERAL (
        SELECT CASE WHEN p.next_offset >= p.end_offset
                    THEN greatest(p.end_seen_at, p.applied_until)
                    ELSE p.applied_until END AS t
    ) x
    WHERE p.topic = mochi_freshness.topic;
$$;
REVOKE ALL ON FUNCTION public.mochi_freshness(TEXT) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.mochi_freshness(TEXT) TO mochi_web;
