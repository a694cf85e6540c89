/* Handing messages back (rewind.h).
 *
 * While the database is away, messages fetched before the pause took
 * effect can still arrive (the client drops most at the pause; rarely, and
 * not seen in tests, some get through); past twice a batch there is no
 * room for them, so each is handed back: the partition seeks to its
 * offset, to read it again once the stream resumes. A seek can fail or
 * time out (the client's state is then unknown), and after a seek that did
 * not take effect a pause and resume restart the partition after the last
 * message the client returned, which is the message handed back. Had the
 * fetch position passed a handed-back message, the messages after it
 * would be applied and their offsets committed, and it would be lost.
 *
 * So the stream does not rely on the seek: it remembers, per partition,
 * the offset handed back (rewinds), and takes no message of that
 * partition beyond it until the message at it has been taken; one beyond
 * it means the position did pass it, and is handed back too (seeking
 * again). Offsets are stored only for messages taken, so no offset past
 * a handed-back message is ever committed. The one way past is the broker
 * deleting the message (retention moved the log start beyond it): then
 * there is nothing left to read there, and the rewind is dropped. A revoke
 * or an assignment drops a partition's rewind too: its consumption starts
 * again from the committed offset, which is not past the rewind. */
#include "stream/rewind.h"
#include "common/log.h"

static struct stream_mark *find(struct stream_rewinds *r, int32_t partition);
static void drop(struct stream_rewinds *r, struct stream_mark *mark);

void stream_rewind_hand_back(struct stream_rewinds *r, const rd_kafka_message_t *m)
{
    struct stream_mark *mark = find(r, m->partition);
    if (mark == NULL && r->n < STREAM_MAX_PARTITIONS) {
        mark = &r->mark[r->n++];
        *mark = (struct stream_mark){m->partition, m->offset};
    }
    int64_t offset = mark != NULL && mark->next_offset < m->offset ? mark->next_offset : m->offset;
    if (mark != NULL)
        mark->next_offset = offset;
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, r->topic, m->partition)->offset = offset;
    rd_kafka_error_t *error = rd_kafka_seek_partitions(r->consumer, list, 1000);
    rd_kafka_resp_err_t err = error ? rd_kafka_error_code(error) : list->elems[0].err;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        mochi_log(MOCHI_LOG_WARN, r->component,
                  "msg=\"seek back failed, will retry\" partition=%d offset=%lld error=%s",
                  (int)m->partition, (long long)offset, rd_kafka_err2name(err));
    if (error)
        rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(list);
}

bool stream_rewind_beyond(struct stream_rewinds *r, const rd_kafka_message_t *m)
{
    struct stream_mark *mark = find(r, m->partition);
    if (mark == NULL || m->offset < mark->next_offset)
        return false;
    if (m->offset == mark->next_offset) {
        drop(r, mark); /* read again: the partition is whole */
        return false;
    }
    int64_t low = -1, high = -1;
    if (rd_kafka_query_watermark_offsets(r->consumer, r->topic, m->partition, &low, &high, 1000) ==
            RD_KAFKA_RESP_ERR_NO_ERROR &&
        low > mark->next_offset) {
        mochi_log(MOCHI_LOG_WARN, r->component,
                  "msg=\"messages handed back were deleted by the broker\" partition=%d "
                  "from=%lld log_start=%lld",
                  (int)m->partition, (long long)mark->next_offset, (long long)low);
        drop(r, mark);
        return false;
    }
    return true;
}

bool stream_rewind_pending(const struct stream_rewinds *r, int32_t partition)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->mark[i].partition == partition)
            return true;
    return false;
}

void stream_rewinds_forget(struct stream_rewinds *r, const rd_kafka_topic_partition_list_t *parts)
{
    for (int p = 0; p < parts->cnt; p++) {
        struct stream_mark *mark = find(r, parts->elems[p].partition);
        if (mark != NULL)
            drop(r, mark);
    }
}

static struct stream_mark *find(struct stream_rewinds *r, int32_t partition)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->mark[i].partition == partition)
            return &r->mark[i];
    return NULL;
}

static void drop(struct stream_rewinds *r, struct stream_mark *mark)
{
    *mark = r->mark[--r->n];
}
