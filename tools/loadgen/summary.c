/* The end-of-run summary. */
#include "tools/loadgen/summary.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>

static int u32_cmp(const void *a, const void *b);
static double percentile_ms(const struct mochi_loadgen_run *run, double q);

static int u32_cmp(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* Nearest rank over sorted latencies; 0 when there are none. */
static double percentile_ms(const struct mochi_loadgen_run *run, double q)
{
    if (run->nlatency == 0)
        return 0;
    size_t rank = (size_t)ceil(q * (double)run->nlatency);
    return run->latency_us[rank > 0 ? rank - 1 : 0] / 1000.0;
}

void mochi_loadgen_summary_print(FILE *out, const struct mochi_loadgen_counts *counts,
                                 struct mochi_loadgen_run *run, bool json)
{
    if (run->nlatency > 0)
        qsort(run->latency_us, run->nlatency, sizeof(*run->latency_us), u32_cmp);
    double seconds = (double)run->elapsed_us / 1e6;
    double rate = seconds > 0 ? (double)counts->sent / seconds : 0;
    double p50 = percentile_ms(run, 0.50), p99 = percentile_ms(run, 0.99);
    if (json) {
        json_t *status = json_object();
        for (int s = 0; s < 600 && status != NULL; s++) {
            char name[8];
            snprintf(name, sizeof(name), "%d", s);
            if (counts->by_status[s] > 0)
                json_object_set_new(status, name, json_integer(counts->by_status[s]));
        }
        json_t *doc =
            json_pack("{s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:o,s:f,s:f,s:{s:f,s:f},s:s?}", "sent",
                      (json_int_t)counts->sent, "accepted", (json_int_t)counts->accepted,
                      "published", (json_int_t)(counts->accepted - counts->bots_accepted), "bots",
                      (json_int_t)counts->bots, "bots_accepted", (json_int_t)counts->bots_accepted,
                      "doubles", (json_int_t)counts->doubles, "errors", (json_int_t)counts->errors,
                      "ambiguous", (json_int_t)counts->ambiguous, "status", status, "elapsed_s",
                      seconds, "rate", rate, "latency_ms", "p50", p50, "p99", p99, "first_error",
                      run->first_error[0] ? run->first_error : NULL);
        char *text = doc ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(6)) : NULL;
        fprintf(out, "%s\n", text ? text : "{}");
        free(text);
        json_decref(doc);
        return;
    }
    fprintf(out, "sent        %lld (doubles %lld, bots %lld)\n", counts->sent, counts->doubles,
            counts->bots);
    fprintf(out, "accepted    %lld (published %lld, bots %lld)\n", counts->accepted,
            counts->accepted - counts->bots_accepted, counts->bots_accepted);
    fprintf(out, "status     ");
    for (int s = 0; s < 600; s++)
        if (counts->by_status[s] > 0)
            fprintf(out, " %d=%lld", s, counts->by_status[s]);
    fprintf(out, "%s\n", counts->sent == counts->errors ? " none" : "");
    fprintf(out, "errors      %lld%s%s%s\n", counts->errors, run->first_error[0] ? " (first: " : "",
            run->first_error, run->first_error[0] ? ")" : "");
    fprintf(out, "ambiguous   %lld\n", counts->ambiguous);
    fprintf(out, "rate        %.1f/s over %.2f s\n", rate, seconds);
    fprintf(out, "latency     p50 %.3f ms, p99 %.3f ms\n", p50, p99);
}
