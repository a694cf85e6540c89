#ifndef LOADGEN_SUMMARY_H
#define LOADGEN_SUMMARY_H

#include <stdbool.h>
#include <stdio.h>

#include "tools/loadgen/client.h"
#include "tools/loadgen/oracle.h"

/* Prints the end-of-run summary to out: text, or one JSON object when
 * json. Sorts run's latencies in place. */
void mochi_loadgen_summary_print(FILE *out, const struct mochi_loadgen_counts *counts,
                                 struct mochi_loadgen_run *run, bool json);

#endif
