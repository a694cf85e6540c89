-- How far mochi-consumer has stored each partition of a topic: every
-- message below next_offset is stored in page_view_events (or was a
-- duplicate, of a removed site, undecodable or too old). Written in the
-- transaction of each batch, so it never says more than the tables hold,
-- and only forward. Before storing a batch the consumer locks its
-- partitions' rows and checks that the batch starts at or below
-- next_offset: one that starts beyond would commit Kafka offsets past
-- messages never stored (offsets moved by hand, a group started at the log
-- end, a client that skipped), so the consumer reads the partition again
-- from next_offset instead. rollup_progress (sql/008) is the rollup's.
CREATE TABLE ingest_progress (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL CHECK (partition >= 0),
    next_offset BIGINT NOT NULL CHECK (next_offset >= 0),
    updated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (topic, partition)
);
GRANT SELECT, INSERT, UPDATE ON ingest_progress TO mochi_consumer;
