#ifndef MOCHICTL_H
#define MOCHICTL_H

#include <libpq-fe.h>

#include "common/config.h"

/* Each command takes the arguments after its name (argv[0] is the command
 * name, as for main) and returns the process exit code: 0 success, 1 a
 * failure at run time, 2 bad usage or configuration. */
int mochictl_migrate(int argc, char **argv);
int mochictl_sites_add(int argc, char **argv);
int mochictl_sites_list(int argc, char **argv);
int mochictl_sites_update(int argc, char **argv);
int mochictl_sites_remove(int argc, char **argv);
int mochictl_topics_ensure(int argc, char **argv);
int mochictl_lag(int argc, char **argv);
int mochictl_replay(int argc, char **argv);
int mochictl_stats(int argc, char **argv);
int mochictl_prune(int argc, char **argv);

/* Connects to the configured database or prints why not. Returns NULL on
 * failure (the message is printed). */
PGconn *mochictl_connect(const struct mochi_config *config);

#endif
