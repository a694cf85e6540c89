/* Where each assigned partition ends (ends.h). */
#include "stream/ends.h"

static struct stream_end *find(struct stream_ends *e, int32_t partition);
static const struct stream_end *find_const(const struct stream_ends *e, int32_t partition);

void stream_ends_assigned(struct stream_ends *e, int32_t partition)
{
    struct stream_end *end = find(e, partition);
    if (end == NULL) {
        if (e->n >= STREAM_MAX_PARTITIONS)
            return;
        end = &e->part[e->n++];
    }
    *end = (struct stream_end){
        .partition = partition, .eof_offset = -1, .end_offset = -1, .seen_mono_ms = 0};
}

void stream_ends_revoked(struct stream_ends *e, int32_t partition)
{
    struct stream_end *end = find(e, partition);
    if (end != NULL)
        *end = e->part[--e->n];
}

void stream_ends_message(struct stream_ends *e, int32_t partition)
{
    struct stream_end *end = find(e, partition);
    if (end != NULL)
        end->eof_offset = -1;
}

void stream_ends_eof(struct stream_ends *e, int32_t partition, int64_t offset)
{
    struct stream_end *end = find(e, partition);
    if (end != NULL && offset >= 0)
        end->eof_offset = offset;
}

void stream_ends_label(const struct stream_ends *e, struct mochi_stream_mark *mark,
                       int64_t cached_end)
{
    const struct stream_end *end = find_const(e, mark->partition);
    mark->end_offset = cached_end >= 0 ? cached_end : -1;
    mark->end_seen_mono_ms = 0;
    if (end == NULL || end->end_offset < 0)
        return;
    if (end->end_offset > mark->end_offset)
        mark->end_offset = end->end_offset;
    /* The look-up's end was current at seen_mono_ms; a batch that reaches
     * it holds everything Kafka had accepted by then, however much came
     * since. */
    if (mark->next_offset >= end->end_offset)
        mark->end_seen_mono_ms = end->seen_mono_ms;
}

size_t stream_ends_idle(const struct stream_ends *e, bool (*waiting)(void *arg, int32_t partition),
                        void *arg, int32_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < e->n; i++)
        if (e->part[i].eof_offset >= 0 && !waiting(arg, e->part[i].partition))
            out[n++] = e->part[i].partition;
    return n;
}

bool stream_ends_found(struct stream_ends *e, int32_t partition, int64_t end, int64_t seen_mono_ms,
                       struct mochi_stream_mark *mark)
{
    struct stream_end *part = find(e, partition);
    if (part == NULL || end < 0)
        return false;
    part->end_offset = end;
    part->seen_mono_ms = seen_mono_ms;
    if (part->eof_offset < 0 || end > part->eof_offset)
        return false; /* more to read: the fetcher brings it */
    *mark = (struct mochi_stream_mark){.partition = partition,
                                       .first_offset = part->eof_offset,
                                       .next_offset = part->eof_offset,
                                       .last_timestamp_ms = -1,
                                       .end_offset = end,
                                       .end_seen_mono_ms = seen_mono_ms};
    return true;
}

static struct stream_end *find(struct stream_ends *e, int32_t partition)
{
    return (struct stream_end *)find_const(e, partition);
}

static const struct stream_end *find_const(const struct stream_ends *e, int32_t partition)
{
    for (size_t i = 0; i < e->n; i++)
        if (e->part[i].partition == partition)
            return &e->part[i];
    return NULL;
}
