#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/utf8.h"
#include "tools/mochictl/cell.h"
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

int mochictl_site_find(PGconn *conn, const char *command, const char *key,
                       struct mochictl_site *site)
{
    unsigned char bin[16];
    const char *params[1] = {key};
    PGresult *res = NULL;
    char err[512];
    /* The keys mochictl makes (22 base64url characters) are never
     * UUID-shaped, so the form says which column to look in, as in the
     * other commands. */
    if (mochi_db_query(conn,
                       mochi_uuid_parse(key, bin) == 0
                           ? "SELECT id, domain FROM sites WHERE id = $1::uuid"
                           : "SELECT id, domain FROM sites WHERE tracking_key = $1",
                       1, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", command, err);
        return 1;
    }
    if (PQntuples(res) == 0) {
        char *shown = mochictl_cell_text(key, strlen(key));
        fprintf(stderr, "%s: no site with id or tracking key '%s'\n", command, shown ? shown : "?");
        free(shown);
        PQclear(res);
        return 1;
    }
    snprintf(site->id, sizeof(site->id), "%s", PQgetvalue(res, 0, 0));
    snprintf(site->domain, sizeof(site->domain), "%s", PQgetvalue(res, 0, 1));
    PQclear(res);
    return 0;
}

void mochictl_print_json(json_t *value)
{
    char *text = json_dumps(value, JSON_COMPACT);
    if (text != NULL)
        puts(text);
    free(text);
}

json_t *mochictl_json_cell(const PGresult *res, int row, int col)
{
    if (PQgetisnull(res, row, col))
        return json_null();
    const char *s = PQgetvalue(res, row, col);
    size_t len = (size_t)PQgetlength(res, row, col);
    if (mochi_utf8_valid(s, len))
        return json_stringn(s, len);
    size_t used = 0;
    char *copy = mochi_utf8_sanitize(s, len, &used);
    if (copy == NULL)
        return NULL;
    json_t *text = json_stringn(copy, used);
    free(copy);
    return text;
}

void mochictl_print_cell(const PGresult *res, int row, int col, size_t width, const char *tail)
{
    bool null = PQgetisnull(res, row, col);
    const char *s = null ? "-" : PQgetvalue(res, row, col);
    size_t len = null ? 1 : (size_t)PQgetlength(res, row, col);
    char *cell = width > 0 ? mochictl_cell(s, len, width) : mochictl_cell_text(s, len);
    printf("%s%s", cell ? cell : "?", tail);
    free(cell);
}
