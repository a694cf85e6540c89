#ifndef MOCHI_DAEMON_H
#define MOCHI_DAEMON_H

#include <stdbool.h>

/* Signal handling shared by the daemons (after PgBouncer): the first
 * SIGTERM or SIGINT asks for a drain, which the main loop sees through
 * mochi_daemon_stopping(); a second one exits at once (status 1). SIGPIPE
 * is ignored. The handlers only touch a volatile sig_atomic_t. */
void mochi_daemon_signals_install(void);

bool mochi_daemon_stopping(void);

/* Asks for a drain as a signal would (tests, fatal errors). */
void mochi_daemon_request_stop(void);

#endif
