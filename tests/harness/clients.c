/* Kafka and HTTP clients for the integration tests (librdkafka, libcurl):
 * the tests read what the programs wrote with ordinary clients. */
#include "tests/harness/harness.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <curl/curl.h>
#include <librdkafka/rdkafka.h>

static void set_or_fail(rd_kafka_conf_t *conf, const char *key, const char *value)
{
    char err[256];
    if (rd_kafka_conf_set(conf, key, value, err, sizeof(err)) != RD_KAFKA_CONF_OK)
        fail_msg("%s: %s", key, err);
}

struct mochi_test_message *mochi_test_kafka_read_all(const char *bootstrap, const char *topic,
                                                     size_t min_count, int timeout_ms,
                                                     size_t *count)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set_or_fail(conf, "bootstrap.servers", bootstrap);
    set_or_fail(conf, "group.id", mochi_test_unique("reader"));
    set_or_fail(conf, "enable.auto.commit", "false");
    set_or_fail(conf, "enable.partition.eof", "true");
    set_or_fail(conf, "auto.offset.reset", "earliest");
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == NULL)
        fail_msg("consumer: %s", err);
    const struct rd_kafka_metadata *md = NULL;
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    rd_kafka_topic_t *t = rd_kafka_topic_new(rk, topic, NULL);
    while (rd_kafka_metadata(rk, 0, t, &md, 5000) != RD_KAFKA_RESP_ERR_NO_ERROR ||
           md->topic_cnt != 1 || md->topics[0].partition_cnt == 0) {
        if (md)
            rd_kafka_metadata_destroy(md);
        md = NULL;
        if (mochi_test_now_ms() > deadline)
            fail_msg("no metadata for topic %s", topic);
    }
    int nparts = md->topics[0].partition_cnt;
    rd_kafka_metadata_destroy(md);
    rd_kafka_topic_destroy(t);

    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p)->offset = RD_KAFKA_OFFSET_BEGINNING;
    if (rd_kafka_assign(rk, parts) != RD_KAFKA_RESP_ERR_NO_ERROR)
        fail_msg("assign failed");
    rd_kafka_topic_partition_list_destroy(parts);

    size_t cap = 64, n = 0;
    struct mochi_test_message *msgs = calloc(cap, sizeof(*msgs));
    bool *at_end = calloc((size_t)nparts, sizeof(bool));
    for (;;) {
        int ends = 0;
        for (int p = 0; p < nparts; p++)
            ends += at_end[p];
        if (ends == nparts && n >= min_count)
            break;
        if (mochi_test_now_ms() > deadline)
            break;
        rd_kafka_message_t *m = rd_kafka_consumer_poll(rk, 100);
        if (m == NULL)
            continue;
        if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
            at_end[m->partition] = true;
        } else if (m->err == RD_KAFKA_RESP_ERR_NO_ERROR) {
            if (n == cap) {
                cap *= 2;
                msgs = realloc(msgs, cap * sizeof(*msgs));
            }
            struct mochi_test_message *x = &msgs[n++];
            x->partition = m->partition;
            x->offset = m->offset;
            x->timestamp_ms = rd_kafka_message_timestamp(m, NULL);
            x->key_len = m->key_len;
            x->key = calloc(1, m->key_len + 1);
            if (m->key_len)
                memcpy(x->key, m->key, m->key_len);
            x->len = m->len;
            x->value = malloc(m->len + 1);
            if (m->len)
                memcpy(x->value, m->payload, m->len);
            x->headers = calloc(1, 1);
            rd_kafka_headers_t *hdrs = NULL;
            if (rd_kafka_message_headers(m, &hdrs) == RD_KAFKA_RESP_ERR_NO_ERROR) {
                const char *name;
                const void *val;
                size_t vlen;
                size_t used = 0;
                for (size_t h = 0; rd_kafka_header_get_all(hdrs, h, &name, &val, &vlen) ==
                                   RD_KAFKA_RESP_ERR_NO_ERROR;
                     h++) {
                    x->headers = realloc(x->headers, used + strlen(name) + vlen + 3);
                    used += (size_t)sprintf(x->headers + used, "%s=%.*s\n", name, (int)vlen,
                                            (const char *)val);
                }
            }
            at_end[m->partition] = false;
        }
        rd_kafka_message_destroy(m);
    }
    free(at_end);
    rd_kafka_consumer_close(rk);
    rd_kafka_destroy(rk);
    *count = n;
    return msgs;
}

void mochi_test_messages_free(struct mochi_test_message *messages, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        free(messages[i].key);
        free(messages[i].value);
        free(messages[i].headers);
    }
    free(messages);
}

struct buffer {
    char *data;
    size_t len;
};

static size_t append(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct buffer *b = userdata;
    size_t n = size * nmemb;
    b->data = realloc(b->data, b->len + n + 1);
    memcpy(b->data + b->len, ptr, n);
    b->len += n;
    b->data[b->len] = '\0';
    return n;
}

bool mochi_test_http_try(const char *method, const char *url, const char *const headers[],
                         const char *body, struct mochi_test_response *response)
{
    CURL *curl = curl_easy_init();
    struct buffer out = {calloc(1, 1), 0}, hdr = {calloc(1, 1), 0};
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers && headers[i]; i++)
        list = curl_slist_append(list, headers[i]);
    curl_easy_setopt(curl, CURLOPT_URL, url);
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, method);
    if (strcmp(method, "HEAD") == 0)
        curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
    if (body != NULL) {
        curl_easy_setopt(curl, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE, (long)strlen(body));
    }
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, append);
    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &out);
    curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, append);
    curl_easy_setopt(curl, CURLOPT_HEADERDATA, &hdr);
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 15000L);
    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
    CURLcode rc = curl_easy_perform(curl);
    response->status = 0;
    curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &response->status);
    response->body = out.data;
    response->headers = hdr.data;
    curl_slist_free_all(list);
    curl_easy_cleanup(curl);
    return rc == CURLE_OK;
}

void mochi_test_http(const char *method, const char *url, const char *const headers[],
                     const char *body, struct mochi_test_response *response)
{
    if (!mochi_test_http_try(method, url, headers, body, response))
        fail_msg("%s %s: no answer", method, url);
}

void mochi_test_http_until(const char *method, const char *url, const char *const headers[],
                           const char *body, long want_status, int timeout_ms,
                           struct mochi_test_response *response)
{
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    for (;;) {
        mochi_test_http(method, url, headers, body, response);
        if (response->status == want_status || mochi_test_now_ms() > deadline)
            return;
        mochi_test_response_free(response);
        usleep(100000);
    }
}

void mochi_test_response_free(struct mochi_test_response *response)
{
    free(response->body);
    free(response->headers);
    response->body = response->headers = NULL;
}

struct mochi_test_producer {
    rd_kafka_t *rk;
    int failures;
};

static void test_dr(rd_kafka_t *rk, const rd_kafka_message_t *msg, void *opaque)
{
    (void)rk;
    struct mochi_test_producer *p = opaque;
    if (msg->err)
        p->failures++;
}

struct mochi_test_producer *mochi_test_producer_new(const char *bootstrap)
{
    struct mochi_test_producer *p = calloc(1, sizeof(*p));
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set_or_fail(conf, "bootstrap.servers", bootstrap);
    set_or_fail(conf, "enable.idempotence", "true");
    set_or_fail(conf, "linger.ms", "5");
    set_or_fail(conf, "queue.buffering.max.messages", "1000000");
    rd_kafka_conf_set_opaque(conf, p);
    rd_kafka_conf_set_dr_msg_cb(conf, test_dr);
    p->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (p->rk == NULL)
        fail_msg("producer: %s", err);
    return p;
}

void mochi_test_produce(struct mochi_test_producer *p, const char *topic, const char *key,
                        const void *value, size_t len)
{
    mochi_test_produce_at(p, topic, key, value, len, 0);
}

void mochi_test_produce_at(struct mochi_test_producer *p, const char *topic, const char *key,
                           const void *value, size_t len, int64_t timestamp_ms)
{
    for (;;) {
        rd_kafka_resp_err_t e = rd_kafka_producev(
            p->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_KEY(key, key ? strlen(key) : 0), RD_KAFKA_V_VALUE((void *)value, len),
            RD_KAFKA_V_TIMESTAMP(timestamp_ms), RD_KAFKA_V_END);
        if (e == RD_KAFKA_RESP_ERR_NO_ERROR)
            return;
        if (e != RD_KAFKA_RESP_ERR__QUEUE_FULL)
            fail_msg("produce: %s", rd_kafka_err2str(e));
        rd_kafka_poll(p->rk, 10);
    }
}

void mochi_test_producer_close(struct mochi_test_producer *p, int timeout_ms)
{
    if (rd_kafka_flush(p->rk, timeout_ms) != RD_KAFKA_RESP_ERR_NO_ERROR)
        fail_msg("producer flush timed out");
    if (p->failures)
        fail_msg("%d messages not delivered", p->failures);
    rd_kafka_destroy(p->rk);
    free(p);
}

void mochi_test_kafka_committed(const char *bootstrap, const char *group, const char *topic,
                                int nparts, int64_t *offsets)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set_or_fail(conf, "bootstrap.servers", bootstrap);
    set_or_fail(conf, "group.id", group);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_CONSUMER, conf, err, sizeof(err));
    if (rk == NULL)
        fail_msg("consumer: %s", err);
    rd_kafka_topic_partition_list_t *parts = rd_kafka_topic_partition_list_new(nparts);
    for (int p = 0; p < nparts; p++)
        rd_kafka_topic_partition_list_add(parts, topic, p);
    rd_kafka_resp_err_t e = rd_kafka_committed(rk, parts, 10000);
    if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
        fail_msg("committed: %s", rd_kafka_err2str(e));
    for (int p = 0; p < nparts; p++)
        offsets[p] = parts->elems[p].offset;
    rd_kafka_topic_partition_list_destroy(parts);
    rd_kafka_destroy(rk);
}

void mochi_test_kafka_end_offsets(const char *bootstrap, const char *topic, int nparts,
                                  int64_t *offsets)
{
    char err[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    set_or_fail(conf, "bootstrap.servers", bootstrap);
    rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, err, sizeof(err));
    if (rk == NULL)
        fail_msg("client: %s", err);
    for (int p = 0; p < nparts; p++) {
        int64_t lo, hi;
        /* A topic just made, or a leader just moved, answers "not leader"
         * for a moment: asked again, as a client would. */
        int64_t deadline = mochi_test_now_ms() + 20000;
        rd_kafka_resp_err_t e;
        while ((e = rd_kafka_query_watermark_offsets(rk, topic, p, &lo, &hi, 10000)) ==
                   RD_KAFKA_RESP_ERR_NOT_LEADER_FOR_PARTITION ||
               e == RD_KAFKA_RESP_ERR_LEADER_NOT_AVAILABLE ||
               e == RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART) {
            if (mochi_test_now_ms() > deadline)
                break;
            usleep(200000);
        }
        if (e != RD_KAFKA_RESP_ERR_NO_ERROR)
            fail_msg("watermarks: %s", rd_kafka_err2str(e));
        offsets[p] = hi;
    }
    rd_kafka_destroy(rk);
}

bool mochi_test_kafka_wait_committed(const char *bootstrap, const char *group, const char *topic,
                                     int nparts, int timeout_ms)
{
    int64_t ends[256], committed[256];
    if (nparts > 256)
        fail_msg("too many partitions");
    mochi_test_kafka_end_offsets(bootstrap, topic, nparts, ends);
    int64_t deadline = mochi_test_now_ms() + timeout_ms;
    bool caught_up = false;
    while (!caught_up && mochi_test_now_ms() < deadline) {
        usleep(200000);
        mochi_test_kafka_committed(bootstrap, group, topic, nparts, committed);
        caught_up = true;
        for (int p = 0; p < nparts; p++)
            caught_up &= ends[p] == 0 || committed[p] == ends[p];
    }
    for (int p = 0; !caught_up && p < nparts; p++)
        print_message("%s partition %d: committed %lld, log end %lld\n", group, p,
                      (long long)committed[p], (long long)ends[p]);
    return caught_up;
}
