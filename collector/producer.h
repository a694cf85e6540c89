#ifndef COLLECTOR_PRODUCER_H
#define COLLECTOR_PRODUCER_H

/* The collector's idempotent Kafka producer. Events wait in librdkafka's
 * bounded queue while Kafka is away; a full queue is reported to the
 * caller (the HTTP layer answers 503) instead of dropping anything. */

#include <stdbool.h>
#include <stddef.h>

#include "common/config.h"
#include "common/metrics.h"

struct collector_producer;

/* Registers in metrics the families a producer serves, without making one
 * (for --print-metrics). Returns 0 or MOCHI_ERR_NOMEM. */
int collector_producer_metrics_describe(struct mochi_metrics *metrics)
    __attribute__((warn_unused_result));

/* Creates the producer for topic with the program's Kafka settings
 * (brokers, -X). Returns 0 or MOCHI_ERR_INVALID with the reason in err;
 * the caller owns *out. */
int collector_producer_new(const struct mochi_config *config, struct mochi_metrics *metrics,
                           struct collector_producer **out, char *err, size_t errlen)
    __attribute__((warn_unused_result));

/* Enqueues one message (copied). Returns 0, MOCHI_ERR_FULL when the local
 * queue is full, or MOCHI_ERR_INTERNAL when the producer is unusable (fatal
 * error). Thread-safe. */
int collector_producer_send(struct collector_producer *producer, const char *key, size_t key_len,
                            const void *value, size_t len) __attribute__((warn_unused_result));

/* Serves delivery reports and statistics for up to timeout_ms; call it in
 * a loop from one thread. */
void collector_producer_poll(struct collector_producer *producer, int timeout_ms);

/* True when the producer can deliver: no fatal error, and a broker was
 * reachable at the last check. */
bool collector_producer_healthy(struct collector_producer *producer);

/* Delivers what is queued within timeout_ms, logs (and counts) what could
 * not be delivered, then frees the producer. Returns the number of
 * messages that were not delivered. NULL is a no-op returning 0. */
int collector_producer_close(struct collector_producer *producer, int timeout_ms);

#endif
