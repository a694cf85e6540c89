/* The settings of the stream library (stream.h). The consumer group and
 * where /metrics listens are each program's own: their defaults are the
 * program's. */
#include "stream/stream.h"

#include "common/clock.h"

const struct mochi_setting mochi_setting_batch_size = {
    .name = "batch-size",
    .env = "MOCHI_BATCH_SIZE",
    .type = MOCHI_SETTING_INT,
    .default_value = "10000",
    .min = 1,
    .max = 100000,
    .help = "most events applied in one transaction"};
const struct mochi_setting mochi_setting_batch_wait = {
    .name = "batch-wait",
    .env = "MOCHI_BATCH_WAIT",
    .type = MOCHI_SETTING_DURATION,
    .default_value = "100ms",
    .min = 1,
    .max = 60000,
    .help = "longest wait for a batch to fill before it is applied"};
const struct mochi_setting mochi_setting_retention = {
    .name = "dedupe-retention",
    .env = "MOCHI_DEDUPE_RETENTION",
    .type = MOCHI_SETTING_DURATION,
    .default_value = "7d",
    .min = 3600 * 1000LL,
    .max = 3650 * MOCHI_MS_PER_DAY,
    .help = "how long dedupe state is kept; older events are refused outside a replay"};

const struct mochi_setting *const mochi_stream_settings[] = {&mochi_setting_brokers,
                                                             &mochi_setting_topic,
                                                             &mochi_setting_database_url,
                                                             &mochi_setting_batch_size,
                                                             &mochi_setting_batch_wait,
                                                             &mochi_setting_retention,
                                                             NULL};
