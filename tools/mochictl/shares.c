/* mochictl shares create | list | revoke: share links, the read-only
 * public dashboards mochi-web serves at /share/{slug}. The slug is 128
 * random bits, so a link cannot be guessed; anyone who has it sees the
 * site's numbers until it is revoked. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/db.h"
#include "common/utf8.h"
#include "tools/mochictl/cell.h"
#include "tools/mochictl/mochictl.h"

#define SLUG_BYTES 16
#define SLUG_LEN                                                                                   \
    (sodium_base64_ENCODED_LEN(SLUG_BYTES, sodium_base64_VARIANT_URLSAFE_NO_PADDING) - 1)

static const struct mochi_setting setting_site = {.name = "site",
                                                  .type = MOCHI_SETTING_STRING,
                                                  .required = true,
                                                  .help = "the site's id or tracking key"};
static const struct mochi_setting setting_list_site = {
    .name = "site",
    .type = MOCHI_SETTING_STRING,
    .help = "only this site's share links (its id or tracking key)"};
static const struct mochi_setting setting_base_url = {
    .name = "base-url",
    .type = MOCHI_SETTING_STRING,
    .help = "mochi-web's public address (https://stats.example.com): the whole link is printed"};
static const struct mochi_setting setting_slug = {.name = "slug",
                                                  .type = MOCHI_SETTING_STRING,
                                                  .required = true,
                                                  .help =
                                                      "the link's slug, as shares list shows it"};
static const struct mochi_setting setting_json = {.name = "json",
                                                  .type = MOCHI_SETTING_FLAG,
                                                  .default_value = "false",
                                                  .help = "print JSON instead of text"};

static const struct mochi_setting *const create_settings[] = {
    &mochi_setting_database_url, &setting_site, &setting_base_url, &setting_json, NULL};
static const struct mochi_setting *const list_settings[] = {
    &mochi_setting_database_url, &setting_list_site, &setting_json, NULL};
static const struct mochi_setting *const revoke_settings[] = {&mochi_setting_database_url,
                                                              &setting_slug, NULL};

static const struct mochi_program_spec create_spec = {
    .name = "mochictl shares create",
    .usage = "--site ID_OR_KEY [--base-url URL] [--json]",
    .summary = "Makes a share link: a read-only dashboard of the site at /share/SLUG on "
               "mochi-web, for anyone who has the link, without an account. Prints the slug, and "
               "with --base-url the whole link.",
    .settings = create_settings,
};
static const struct mochi_program_spec list_spec = {
    .name = "mochictl shares list",
    .usage = "[--site ID_OR_KEY] [--json]",
    .summary = "Lists the share links: slug, site, when made and revoked.",
    .settings = list_settings,
};
static const struct mochi_program_spec revoke_spec = {
    .name = "mochictl shares revoke",
    .usage = "--slug SLUG",
    .summary = "Revokes a share link: mochi-web answers it 404 from then on. The row stays, for "
               "the record.",
    .settings = revoke_settings,
};

/* Checks --base-url: http:// or https://, a host, no space, control
 * character or character that would need quoting in a shell or HTML
 * attribute, no query or fragment. Returns its length without trailing
 * slashes, or 0 (printed why) when refused. */
static size_t base_url_len(const char *command, const char *url)
{
    size_t len = strlen(url);
    size_t scheme = strncmp(url, "https://", 8) == 0 ? 8 : strncmp(url, "http://", 7) == 0 ? 7 : 0;
    bool ok = scheme > 0 && len > scheme && url[scheme] != '/' && mochi_utf8_valid(url, len) &&
              !mochi_utf8_has_control(url, len) && strpbrk(url, " \"'<>`\\?#") == NULL;
    if (!ok) {
        char *shown = mochictl_cell_text(url, len);
        fprintf(stderr,
                "%s: --base-url: '%s' is not an address such as https://stats.example.com "
                "(http:// or https://, a host, maybe a path; no query, fragment, spaces or "
                "quotes)\n",
                command, shown ? shown : "?");
        free(shown);
        return 0;
    }
    while (len > scheme && url[len - 1] == '/')
        len--;
    return len;
}

int mochictl_shares_create(int argc, char **argv)
{
    static const char command[] = "mochictl shares create";
    struct mochi_config *config = mochi_config_load_or_exit(&create_spec, argc, argv);
    struct mochictl_site site = {{0}};
    PGresult *res = NULL;
    char err[512];
    int code = 2;
    PGconn *conn = NULL;
    char *url = NULL;
    const char *base = mochi_config_str(config, &setting_base_url);
    size_t base_len = 0;
    if (base != NULL && (base_len = base_url_len(command, base)) == 0)
        goto out;
    code = 1;
    conn = mochictl_connect(config);
    if (conn == NULL ||
        mochictl_site_find(conn, command, mochi_config_str(config, &setting_site), &site))
        goto out;

    unsigned char raw[SLUG_BYTES];
    char slug[SLUG_LEN + 1];
    randombytes_buf(raw, sizeof(raw));
    sodium_bin2base64(slug, sizeof(slug), raw, sizeof(raw),
                      sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    const char *params[2] = {slug, site.id};
    if (mochi_db_query(conn,
                       "INSERT INTO shares (slug, site_id) VALUES ($1, $2::uuid) "
                       "RETURNING "
                       "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')",
                       2, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", command, err);
        goto out;
    }
    if (base != NULL) {
        size_t size = base_len + sizeof("/share/") + SLUG_LEN;
        url = malloc(size);
        if (url == NULL) {
            fprintf(stderr, "%s: out of memory\n", command);
            goto out;
        }
        snprintf(url, size, "%.*s/share/%s", (int)base_len, base, slug);
    }
    if (mochi_config_flag(config, &setting_json)) {
        json_t *obj =
            json_pack("{s:s, s:s, s:s, s:s, s:s?}", "slug", slug, "site_id", site.id, "domain",
                      site.domain, "created_at", PQgetvalue(res, 0, 0), "url", url);
        mochictl_print_json(obj);
        json_decref(obj);
    } else {
        printf("slug  %s\n", slug);
        if (url != NULL)
            printf("url   %s\n", url);
        else
            printf("path  /share/%s (on mochi-web's address; --base-url prints the whole link)\n",
                   slug);
        printf("\nAnyone with the link sees %s's dashboard, read-only, until "
               "mochictl shares revoke --slug %s.\n",
               site.domain, slug);
    }
    code = 0;
out:
    free(url);
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}

int mochictl_shares_list(int argc, char **argv)
{
    static const char command[] = "mochictl shares list";
    struct mochi_config *config = mochi_config_load_or_exit(&list_spec, argc, argv);
    struct mochictl_site site = {{0}};
    PGresult *res = NULL;
    char err[512];
    int code = 1;
    PGconn *conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    const char *key = mochi_config_str(config, &setting_list_site);
    if (key != NULL && mochictl_site_find(conn, command, key, &site) != 0)
        goto out;
    const char *params[1] = {key != NULL ? site.id : NULL};
    if (mochi_db_query(
            conn,
            "SELECT h.slug, h.site_id, s.domain, "
            "to_char(h.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
            "to_char(h.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
            "FROM shares h JOIN sites s ON s.id = h.site_id "
            "WHERE $1::uuid IS NULL OR h.site_id = $1::uuid "
            "ORDER BY h.created_at, h.slug",
            1, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", command, err);
        goto out;
    }
    int n = PQntuples(res);
    if (mochi_config_flag(config, &setting_json)) {
        json_t *arr = json_array();
        for (int i = 0; i < n; i++)
            json_array_append_new(arr, json_pack("{s:o?, s:o?, s:o?, s:o?, s:o?}", "slug",
                                                 mochictl_json_cell(res, i, 0), "site_id",
                                                 mochictl_json_cell(res, i, 1), "domain",
                                                 mochictl_json_cell(res, i, 2), "created_at",
                                                 mochictl_json_cell(res, i, 3), "revoked_at",
                                                 mochictl_json_cell(res, i, 4)));
        mochictl_print_json(arr);
        json_decref(arr);
    } else {
        printf("%-22s  %-20s  %-20s  %s\n", "SLUG", "CREATED", "REVOKED", "SITE");
        for (int i = 0; i < n; i++) {
            mochictl_print_cell(res, i, 0, 22, "  ");
            mochictl_print_cell(res, i, 3, 20, "  ");
            mochictl_print_cell(res, i, 4, 20, "  ");
            mochictl_print_cell(res, i, 2, 0, "\n");
        }
    }
    code = 0;
out:
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}

int mochictl_shares_revoke(int argc, char **argv)
{
    static const char command[] = "mochictl shares revoke";
    struct mochi_config *config = mochi_config_load_or_exit(&revoke_spec, argc, argv);
    PGresult *res = NULL;
    char err[512];
    int code = 1;
    PGconn *conn = mochictl_connect(config);
    if (conn == NULL)
        goto out;
    const char *slug = mochi_config_str(config, &setting_slug);
    const char *params[1] = {slug};
    if (mochi_db_query(conn,
                       "WITH h AS (SELECT slug, site_id, revoked_at FROM shares WHERE slug = $1 "
                       "FOR UPDATE), "
                       "r AS (UPDATE shares x SET revoked_at = now() FROM h "
                       "WHERE x.slug = h.slug AND h.revoked_at IS NULL RETURNING x.revoked_at) "
                       "SELECT to_char(coalesce((SELECT revoked_at FROM r), h.revoked_at) "
                       "AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
                       "h.revoked_at IS NOT NULL, s.domain "
                       "FROM h JOIN sites s ON s.id = h.site_id",
                       1, params, &res, err, sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", command, err);
        goto out;
    }
    if (PQntuples(res) == 0) {
        char *shown = mochictl_cell_text(slug, strlen(slug));
        fprintf(stderr, "%s: no share link with slug '%s'\n", command, shown ? shown : "?");
        free(shown);
        goto out;
    }
    printf("share link %s of %s %s %s\n", slug, PQgetvalue(res, 0, 2),
           strcmp(PQgetvalue(res, 0, 1), "t") == 0 ? "was revoked already at" : "revoked at",
           PQgetvalue(res, 0, 0));
    code = 0;
out:
    PQclear(res);
    PQfinish(conn);
    mochi_config_destroy(config);
    return code;
}
