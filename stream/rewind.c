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
 * again from the committed offset, which is not past the rewind.
 *
 * A gap (stream_rewind_to) is the same guard for another cause: the
 * applier found that its records of a partition end before the batch's
 * first message (stream.h, MOCHI_ERR_GAP), so the messages in between were
 * never applied; the partition is read again from where the records end.
 * There the offset need not hold a message (a log whose start moved past
 * it, or offsets a transactional producer's markers took): when the same
 * message comes first three times in a row after seeking back, nothing
 * lies in between, and it is taken as read from the gap's start. */
#include "stream/rewind.h"
#include "common/log.h"

/* Times in a row the same message must come first after seeking back to a
 * gap before the offsets in between are taken as holding no message. */
#define GAP_EMPTY_AFTER 3

static struct stream_rewind *find(struct stream_rewinds *r, int32_t partition);
static struct stream_rewind *add(struct stream_rewinds *r, int32_t partition, int64_t offset,
                                 bool gap);
static void seek(struct stream_rewinds *r, int32_t partition, int64_t offset);
static void drop(struct stream_rewinds *r, struct stream_rewind *mark);

void stream_rewind_hand_back(struct stream_rewinds *r, const rd_kafka_message_t *m)
{
    struct stream_rewind *mark = add(r, m->partition, m->offset, false);
    seek(r, m->partition, mark != NULL ? mark->next_offset : m->offset);
}

void stream_rewind_to(struct stream_rewinds *r, int32_t partition, int64_t offset)
{
    struct stream_rewind *mark = add(r, partition, offset, true);
    seek(r, partition, mark != NULL ? mark->next_offset : offset);
}

bool stream_rewind_beyond(struct stream_rewinds *r, const rd_kafka_message_t *m, int64_t *hole_from)
{
    struct stream_rewind *mark = find(r, m->partition);
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
                  "msg=\"messages to read again were deleted by the broker\" partition=%d "
                  "from=%lld log_start=%lld",
                  (int)m->partition, (long long)mark->next_offset, (long long)low);
        *hole_from = mark->next_offset;
        drop(r, mark);
        return false;
    }
    if (mark->gap) {
        mark->times = m->offset == mark->beyond ? mark->times + 1 : 1;
        mark->beyond = m->offset;
        if (mark->times >= GAP_EMPTY_AFTER) {
            mochi_log(MOCHI_LOG_WARN, r->component,
                      "msg=\"no message between these offsets: going on\" partition=%d from=%lld "
                      "to=%lld",
                      (int)m->partition, (long long)mark->next_offset, (long long)m->offset);
            *hole_from = mark->next_offset;
            drop(r, mark);
            return false;
        }
    }
    return true; /* the caller hands it back, seeking again */
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
        struct stream_rewind *mark = find(r, parts->elems[p].partition);
        if (mark != NULL)
            drop(r, mark);
    }
}

static struct stream_rewind *find(struct stream_rewinds *r, int32_t partition)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->mark[i].partition == partition)
            return &r->mark[i];
    return NULL;
}

/* The partition's rewind, made or moved back to offset; NULL when there is
 * no room for another (the seek is still made). */
static struct stream_rewind *add(struct stream_rewinds *r, int32_t partition, int64_t offset,
                                 bool gap)
{
    struct stream_rewind *mark = find(r, partition);
    if (mark == NULL && r->n < STREAM_MAX_PARTITIONS) {
        mark = &r->mark[r->n++];
        *mark = (struct stream_rewind){.partition = partition, .next_offset = offset, .beyond = -1};
    }
    if (mark == NULL)
        return NULL;
    if (offset < mark->next_offset) {
        mark->next_offset = offset;
        mark->times = 0;
    }
    mark->gap = mark->gap || gap;
    return mark;
}

/* Seeks partition to offset. A failed seek is logged; the rewind stays, so
 * the next message beyond it is handed back and the seek tried again. */
static void seek(struct stream_rewinds *r, int32_t partition, int64_t offset)
{
    rd_kafka_topic_partition_list_t *list = rd_kafka_topic_partition_list_new(1);
    rd_kafka_topic_partition_list_add(list, r->topic, partition)->offset = offset;
    rd_kafka_error_t *error = rd_kafka_seek_partitions(r->consumer, list, 1000);
    rd_kafka_resp_err_t err = error ? rd_kafka_error_code(error) : list->elems[0].err;
    if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
        mochi_log(MOCHI_LOG_WARN, r->component,
                  "msg=\"seek back failed, will retry\" partition=%d offset=%lld error=%s",
                  (int)partition, (long long)offset, rd_kafka_err2name(err));
    if (error)
        rd_kafka_error_destroy(error);
    rd_kafka_topic_partition_list_destroy(list);
}

static void drop(struct stream_rewinds *r, struct stream_rewind *mark)
{
    *mark = r->mark[--r->n];
}
