#ifndef MOCHI_DEVKAFKA_CONTROL_H
#define MOCHI_DEVKAFKA_CONTROL_H

#include <stddef.h>

#include "tools/devkafka/devkafka.h"
#include "common/error.h"

/* Control commands for the dev broker, one per line, read from stdin and,
 * when a path is given, from a named pipe. Every command is answered with
 * one line on stdout ("ok ..." or "error ..."), whichever source it came
 * from, and logged to stderr. stdin reaching EOF only stops reading stdin;
 * the pipe is held open for reading and writing so that it never reaches
 * EOF when a writer leaves. */

struct mochi_devkafka_control;

/* Prepares the sources. fifo_path may be NULL; else the fifo is created
 * (mode 0600) unless a fifo already exists there. Returns 0 and the
 * control in *out (caller owns it), or MOCHI_ERR_IO with the reason in
 * err. */
int mochi_devkafka_control_new(const char *fifo_path, struct mochi_devkafka_control **out,
                               char *err, size_t errlen) __attribute__((warn_unused_result));

/* Closes the sources and removes the fifo if this program made it. NULL
 * does nothing. */
void mochi_devkafka_control_destroy(struct mochi_devkafka_control *control);

/* Waits up to timeout_ms for input (returns early on a signal), then runs
 * every complete command line received against devkafka. */
void mochi_devkafka_control_serve(struct mochi_devkafka_control *control,
                                  struct mochi_devkafka *devkafka, int timeout_ms);

#endif
