/* The libcurl multi driver; see client.h. One easy handle per connection,
 * reused request after request, so libcurl keeps each connection alive. */
#include "tools/loadgen/client.h"

#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/error.h"
#include "common/log.h"

struct slot {
    CURL *easy;
    struct curl_slist *headers; /* owned */
    char *body;                 /* owned: the POST body */
    char *target;               /* owned: the request URL of a GIF beacon */
    struct mochi_loadgen_beacon beacon;
    bool duplicate, busy;
    int64_t sent_us;
    char error[CURL_ERROR_SIZE];
};

struct driver {
    const struct mochi_loadgen_client_params *params;
    const struct mochi_loadgen_site *sites;
    struct mochi_loadgen_traffic *traffic;
    struct mochi_loadgen_oracle *oracle;
    struct mochi_loadgen_run *run;
    CURLM *multi;
    struct slot *slots;
    int busy;
    char *event_url;
    long long launched, failures_in_a_row;
    struct mochi_loadgen_beacon pending; /* the second copy of a double-fired beacon */
    bool has_pending;
    struct mochi_loadgen_beacon *deferred; /* owned: drawn, waiting for their visitor */
    int ndeferred;                         /* at most params->connections */
    uint8_t *inflight; /* owned: requests in flight per site and visitor index */
    size_t visitors;
    int64_t pace_since_us;  /* pacing restarts from here (monotonic) ... */
    long long pace_since_n; /* ... and this many launches */
};

static size_t discard(char *data, size_t size, size_t nmemb, void *user);
static struct curl_slist *append(struct curl_slist *list, const char *line);
static int prepare(struct driver *d, struct slot *slot);
static uint8_t *inflight_of(struct driver *d, const struct mochi_loadgen_beacon *b);
static bool next_beacon(struct driver *d, struct mochi_loadgen_beacon *out);
static int launch(struct driver *d, int64_t *wait_us);
static int finish(struct driver *d, struct slot *slot, CURLcode result);

static size_t discard(char *data, size_t size, size_t nmemb, void *user)
{
    (void)data;
    (void)user;
    return size * nmemb;
}

/* Appends line to list (libcurl copies it). Returns the list, or NULL
 * with the whole list freed when out of memory. */
static struct curl_slist *append(struct curl_slist *list, const char *line)
{
    struct curl_slist *grown = curl_slist_append(list, line);
    if (grown == NULL)
        curl_slist_free_all(list);
    return grown;
}

/* Sets up slot's handle for slot->beacon. Returns 0 or MOCHI_ERR_NOMEM. */
static int prepare(struct driver *d, struct slot *slot)
{
    const struct mochi_loadgen_beacon *b = &slot->beacon;
    const char *key = d->sites[b->site].key;
    char line[LOADGEN_URL_MAX];
    curl_slist_free_all(slot->headers);
    free(slot->body);
    free(slot->target);
    slot->headers = NULL;
    slot->body = slot->target = NULL;

    /* "User-Agent:" with no value makes libcurl send no such header. */
    snprintf(line, sizeof(line), "User-Agent:%s%s", b->user_agent[0] ? " " : "", b->user_agent);
    struct curl_slist *h = append(NULL, line);
    if (h != NULL && d->params->forwarded_for) {
        snprintf(line, sizeof(line), "X-Forwarded-For: %s", b->ip);
        h = append(h, line);
    }
    if (h != NULL && !b->gif) /* what sendBeacon sends a string as */
        h = append(h, "Content-Type: text/plain;charset=UTF-8");
    slot->headers = h;
    if (h == NULL)
        return MOCHI_ERR_NOMEM;
    curl_easy_setopt(slot->easy, CURLOPT_HTTPHEADER, h);

    if (b->gif) {
        char *k = curl_easy_escape(slot->easy, key, 0);
        char *u = curl_easy_escape(slot->easy, b->url, 0);
        char *r = curl_easy_escape(slot->easy, b->referrer, 0);
        if (k == NULL || u == NULL || r == NULL ||
            asprintf(&slot->target, "%s/p.gif?k=%s&u=%s&r=%s", d->params->url, k, u, r) < 0)
            slot->target = NULL;
        curl_free(k);
        curl_free(u);
        curl_free(r);
        if (slot->target == NULL)
            return MOCHI_ERR_NOMEM;
        curl_easy_setopt(slot->easy, CURLOPT_URL, slot->target);
        curl_easy_setopt(slot->easy, CURLOPT_HTTPGET, 1L);
        return 0;
    }
    json_t *body = json_pack("{s:s,s:s,s:s}", "k", key, "u", b->url, "r", b->referrer);
    slot->body = body ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    if (slot->body == NULL)
        return MOCHI_ERR_NOMEM;
    curl_easy_setopt(slot->easy, CURLOPT_URL, d->event_url);
    curl_easy_setopt(slot->easy, CURLOPT_POSTFIELDS, slot->body);
    curl_easy_setopt(slot->easy, CURLOPT_POSTFIELDSIZE, (long)strlen(slot->body));
    return 0;
}

/* The count of b's visitor's requests in flight on b's site; NULL for a
 * bot (not counted, so never waits). */
static uint8_t *inflight_of(struct driver *d, const struct mochi_loadgen_beacon *b)
{
    return b->visitor == LOADGEN_BOT ? NULL : &d->inflight[b->site * d->visitors + b->visitor];
}

/* The next beacon whose visitor has no request in flight on its site: the
 * oldest deferred one, else new ones drawn, deferring those whose visitor
 * is busy. One visitor's requests to one site thus go one after another
 * (the two copies of a double-fired beacon excepted: one page view, one
 * entry and source), so the order loadgen sends them is the order in which
 * the collector stamps and publishes them, which the oracle's "first view
 * of the day" relies on. Returns false when the deferred queue is full:
 * an answer must come first. */
static bool next_beacon(struct driver *d, struct mochi_loadgen_beacon *out)
{
    for (int i = 0; i < d->ndeferred; i++) {
        if (*inflight_of(d, &d->deferred[i]) == 0) {
            *out = d->deferred[i];
            memmove(&d->deferred[i], &d->deferred[i + 1],
                    (size_t)(d->ndeferred - i - 1) * sizeof(*out));
            d->ndeferred--;
            return true;
        }
    }
    while (d->ndeferred < d->params->connections) {
        mochi_loadgen_traffic_next(d->traffic, out);
        uint8_t *busy = inflight_of(d, out);
        if (busy == NULL || *busy == 0)
            return true;
        d->deferred[d->ndeferred++] = *out;
    }
    return false;
}

/* Launches requests on free slots while the pace and the minute guard
 * allow. Sets *wait_us to how long until the next launch may happen
 * (0 when only a free slot is missing). Returns 0 or a negative error. */
static int launch(struct driver *d, int64_t *wait_us)
{
    const struct mochi_loadgen_client_params *p = d->params;
    *wait_us = 0;
    for (int i = 0; i < p->connections; i++) {
        struct slot *slot = &d->slots[i];
        if (slot->busy)
            continue;
        if (p->count > 0 && d->launched >= p->count)
            return 0;
        int64_t now = mochi_clock_mono_us();
        /* The collector stamps a beacon when it arrives; a request sent near
         * the end of a minute might land in the next one. Wait it out. */
        int64_t wall = mochi_clock_now_us();
        int64_t left_us = mochi_minute_of_us(wall) + MOCHI_US_PER_MINUTE - wall;
        if (left_us <= p->minute_guard_ms * 1000) {
            *wait_us = left_us;
            d->pace_since_us = now + left_us; /* no burst to catch up after the pause */
            d->pace_since_n = d->launched;
            return 0;
        }
        if (p->rate > 0) {
            int64_t due = d->pace_since_us + (d->launched - d->pace_since_n) * 1000000 / p->rate;
            if (now < due) {
                *wait_us = due - now;
                return 0;
            }
            if (now - due > 1000000) { /* far behind (slow answers): do not burst */
                d->pace_since_us = now;
                d->pace_since_n = d->launched;
            }
        }
        slot->duplicate = d->has_pending;
        if (d->has_pending)
            slot->beacon = d->pending;
        else if (!next_beacon(d, &slot->beacon))
            return 0;
        d->has_pending = !slot->duplicate && slot->beacon.fire_twice;
        if (d->has_pending)
            d->pending = slot->beacon;
        int rc = prepare(d, slot);
        if (rc != 0)
            return rc;
        slot->error[0] = '\0';
        slot->sent_us = mochi_clock_now_us();
        if (curl_multi_add_handle(d->multi, slot->easy) != CURLM_OK)
            return MOCHI_ERR_INTERNAL;
        slot->busy = true;
        d->busy++;
        d->launched++;
        uint8_t *inflight = inflight_of(d, &slot->beacon);
        if (inflight != NULL)
            (*inflight)++;
    }
    return 0;
}

/* Hands a finished request to the oracle: answered when result is
 * CURLE_OK, else an error (abandoned ones too: whether the collector took
 * them is unknown). Returns 0 or MOCHI_ERR_NOMEM. */
static int finish(struct driver *d, struct slot *slot, CURLcode result)
{
    struct mochi_loadgen_run *run = d->run;
    long status = 0;
    curl_off_t total_us = 0;
    if (result == CURLE_OK) {
        curl_easy_getinfo(slot->easy, CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(slot->easy, CURLINFO_TOTAL_TIME_T, &total_us);
    }
    struct mochi_loadgen_result r = {.site = slot->beacon.site,
                                     .visitor = slot->beacon.visitor,
                                     .gif = slot->beacon.gif,
                                     .duplicate = slot->duplicate,
                                     .url = slot->beacon.url,
                                     .referrer = slot->beacon.referrer,
                                     .status = status,
                                     .sent_us = slot->sent_us,
                                     .done_us = mochi_clock_now_us()};
    curl_multi_remove_handle(d->multi, slot->easy);
    slot->busy = false;
    d->busy--;
    uint8_t *inflight = inflight_of(d, &slot->beacon);
    if (inflight != NULL)
        (*inflight)--;
    if (status == 0) {
        d->failures_in_a_row++;
        if (run->first_error[0] == '\0') {
            char q[300];
            snprintf(run->first_error, sizeof(run->first_error), "%s",
                     slot->error[0] ? slot->error : curl_easy_strerror(result));
            mochi_log(MOCHI_LOG_WARN, "loadgen", "msg=\"request failed\" error=%s",
                      mochi_log_quote(q, sizeof(q), run->first_error));
        }
    } else {
        d->failures_in_a_row = 0;
        run->answered++;
        if (run->nlatency == run->latency_cap) {
            size_t cap = run->latency_cap ? 2 * run->latency_cap : 4096;
            uint32_t *grown = realloc(run->latency_us, cap * sizeof(*grown));
            if (grown == NULL)
                return MOCHI_ERR_NOMEM;
            run->latency_us = grown;
            run->latency_cap = cap;
        }
        run->latency_us[run->nlatency++] = total_us > UINT32_MAX ? UINT32_MAX : (uint32_t)total_us;
    }
    /* Every connection refused before any answer: the collector is down. */
    if (run->answered == 0 && d->failures_in_a_row >= d->params->connections + 2)
        run->unreachable = true;
    return mochi_loadgen_oracle_add(d->oracle, &r);
}

int mochi_loadgen_client_run(const struct mochi_loadgen_client_params *params,
                             const struct mochi_loadgen_site *sites,
                             struct mochi_loadgen_traffic *traffic,
                             struct mochi_loadgen_oracle *oracle, const volatile sig_atomic_t *stop,
                             struct mochi_loadgen_run *run, char *err, size_t errlen)
{
    struct driver d = {
        .params = params, .sites = sites, .traffic = traffic, .oracle = oracle, .run = run};
    int rc = MOCHI_ERR_NOMEM;
    memset(run, 0, sizeof(*run));
    err[0] = '\0';
    d.multi = curl_multi_init();
    d.slots = calloc((size_t)params->connections, sizeof(*d.slots));
    d.deferred = calloc((size_t)params->connections, sizeof(*d.deferred));
    d.visitors = mochi_loadgen_traffic_visitors(traffic);
    d.inflight = calloc(mochi_loadgen_traffic_sites(traffic) * d.visitors, sizeof(*d.inflight));
    if (d.multi == NULL || d.slots == NULL || d.deferred == NULL || d.inflight == NULL ||
        asprintf(&d.event_url, "%s/api/event", params->url) < 0) {
        d.event_url = NULL;
        goto out;
    }
    curl_multi_setopt(d.multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)params->connections);
    curl_multi_setopt(d.multi, CURLMOPT_MAXCONNECTS, (long)params->connections);
    for (int i = 0; i < params->connections; i++) {
        struct slot *slot = &d.slots[i];
        if ((slot->easy = curl_easy_init()) == NULL)
            goto out;
        curl_easy_setopt(slot->easy, CURLOPT_PRIVATE, (char *)slot);
        curl_easy_setopt(slot->easy, CURLOPT_ERRORBUFFER, slot->error);
        curl_easy_setopt(slot->easy, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(slot->easy, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(slot->easy, CURLOPT_TIMEOUT_MS, (long)params->timeout_ms);
        curl_easy_setopt(slot->easy, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
    }

    int64_t start = mochi_clock_mono_us(), drain_deadline = 0, last = start;
    d.pace_since_us = start;
    rc = 0;
    for (;;) {
        int64_t now = mochi_clock_mono_us(), wait_us = 100000;
        bool sending = !*stop && !run->unreachable &&
                       (params->duration_ms == 0 || now - start < params->duration_ms * 1000) &&
                       (params->count == 0 || d.launched < params->count);
        if (sending) {
            rc = launch(&d, &wait_us);
            if (rc != 0) {
                snprintf(err, errlen, "%s",
                         rc == MOCHI_ERR_NOMEM ? "out of memory" : "libcurl refused a request");
                goto out;
            }
            if (wait_us == 0 || wait_us > 100000)
                wait_us = 100000; /* a finished request, or a signal, wakes us sooner */
        } else if (d.busy == 0) {
            break;
        } else if (drain_deadline == 0) {
            drain_deadline = now + params->drain_ms * 1000;
        } else if (now >= drain_deadline || *stop >= 2) {
            mochi_log(MOCHI_LOG_WARN, "loadgen", "msg=\"gave up on requests in flight\" count=%d",
                      d.busy);
            for (int i = 0; i < params->connections && rc == 0; i++)
                if (d.slots[i].busy)
                    rc = finish(&d, &d.slots[i], CURLE_OPERATION_TIMEDOUT);
            if (rc != 0)
                goto out;
            break;
        }
        int running = 0, left, finished = 0;
        CURLMsg *msg;
        if (curl_multi_perform(d.multi, &running) != CURLM_OK) {
            snprintf(err, errlen, "libcurl's multi handle failed");
            rc = MOCHI_ERR_INTERNAL;
            goto out;
        }
        while ((msg = curl_multi_info_read(d.multi, &left)) != NULL) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            char *slot = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &slot);
            rc = finish(&d, (struct slot *)slot, msg->data.result);
            if (rc != 0) {
                snprintf(err, errlen, "out of memory");
                goto out;
            }
            last = mochi_clock_mono_us();
            finished++;
        }
        if (finished > 0 && sending)
            continue; /* fill the freed slots before sleeping */
        curl_multi_poll(d.multi, NULL, 0, (int)((wait_us + 999) / 1000), NULL);
    }
    run->elapsed_us = last - start;
    rc = 0;
out:
    for (int i = 0; d.slots && i < params->connections; i++) {
        if (d.slots[i].busy)
            curl_multi_remove_handle(d.multi, d.slots[i].easy);
        curl_easy_cleanup(d.slots[i].easy);
        curl_slist_free_all(d.slots[i].headers);
        free(d.slots[i].body);
        free(d.slots[i].target);
    }
    free(d.slots);
    free(d.deferred);
    free(d.inflight);
    free(d.event_url);
    curl_multi_cleanup(d.multi);
    if (rc == MOCHI_ERR_NOMEM && err[0] == '\0')
        snprintf(err, errlen, "out of memory");
    return rc;
}

void mochi_loadgen_run_free(struct mochi_loadgen_run *run)
{
    free(run->latency_us);
    run->latency_us = NULL;
    run->nlatency = run->latency_cap = 0;
}
