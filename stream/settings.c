/* Settings every stream daemon takes (stream.h). Where /metrics listens
 * is each program's own setting: its default port is the program's. */
#include "stream/stream.h"
#include "common/names.h"

const struct mochi_setting mochi_setting_group = {
    .name = "group",
    .env = "MOCHI_GROUP",
    .type = MOCHI_SETTING_STRING,
    .help = "consumer group (default: the program's, " MOCHI_GROUP_INGEST " or " MOCHI_GROUP_ROLLUP
            ")"};
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
    .default_value = "200ms",
    .min = 1,
    .max = 60000,
    .help = "longest wait for a batch to fill before it is applied"};
const struct mochi_setting mochi_setting_retention = {
    .name = "dedupe-retention",
    .env = "MOCHI_DEDUPE_RETENTION",
    .type = MOCHI_SETTING_DURATION,
    .default_value = "7d",
    .min = 3600 * 1000LL,
    .max = 3650 * 86400 * 1000LL,
    .help = "how long dedupe state is kept; older events are refused outside a replay"};
