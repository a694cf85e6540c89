#ifndef MOCHICTL_H
#define MOCHICTL_H

#include <jansson.h>
#include <libpq-fe.h>

#include "common/config.h"
#include "common/domain.h"
#include "common/uuid.h"

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
int mochictl_users_add(int argc, char **argv);
int mochictl_users_passwd(int argc, char **argv);
int mochictl_users_grant(int argc, char **argv);
int mochictl_users_revoke(int argc, char **argv);
int mochictl_users_remove(int argc, char **argv);
int mochictl_users_list(int argc, char **argv);
int mochictl_tokens_create(int argc, char **argv);
int mochictl_tokens_list(int argc, char **argv);
int mochictl_tokens_revoke(int argc, char **argv);
int mochictl_shares_create(int argc, char **argv);
int mochictl_shares_list(int argc, char **argv);
int mochictl_shares_revoke(int argc, char **argv);

/* Connects to the configured database or prints why not. Returns NULL on
 * failure (the message is printed). */
PGconn *mochictl_connect(const struct mochi_config *config);

/* A site as the commands that take --site name it. */
struct mochictl_site {
    char id[MOCHI_UUID_TEXT_LEN + 1];
    char domain[MOCHI_DOMAIN_MAX + 1];
};

/* Finds the site that key names: its id (a UUID) or its tracking key.
 * Returns 0 with the site in *site, or prints why not, after command
 * ("mochictl users grant: no site with id or tracking key '...'"), and
 * returns the exit code 1 (no such site, or the database failed). */
int mochictl_site_find(PGconn *conn, const char *command, const char *key,
                       struct mochictl_site *site);

/* Prints value as one line of compact JSON on stdout. Does not take
 * value's reference. */
void mochictl_print_json(json_t *value);

/* A new JSON string of a result's text cell (invalid UTF-8, possible only
 * in a SQL_ASCII database, becomes U+FFFD), or JSON null for SQL NULL.
 * NULL when out of memory. */
json_t *mochictl_json_cell(const PGresult *res, int row, int col);

/* Prints a result's text cell on stdout in a column of width terminal
 * columns, escaped and cut as mochictl_cell says (width 0: escaped, neither
 * cut nor padded, for the last column), then tail. SQL NULL is shown as
 * "-". */
void mochictl_print_cell(const PGresult *res, int row, int col, size_t width, const char *tail);

#endif
