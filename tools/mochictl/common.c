#include <stdio.h>

#include "common/db.h"
#include "tools/mochictl/mochictl.h"

PGconn *mochictl_connect(const struct mochi_config *config)
{
    PGconn *conn = NULL;
    char err[512] = "";
    if (mochi_db_connect(mochi_config_str(config, &mochi_setting_database_url), "mochictl", &conn,
                         err, sizeof(err)) != 0) {
        fprintf(stderr, "mochictl: cannot connect to PostgreSQL: %s\n", err);
        return NULL;
    }
    return conn;
}
