/* mochictl: Mochi's operator tool. main only dispatches to a command. */
#include <stdio.h>
#include <string.h>

#include "common/hash.h"
#include "tools/mochictl/mochictl.h"

struct command {
    const char *group; /* "sites", or NULL for a top-level command */
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
};

static const struct command commands[] = {
    {NULL, "migrate", mochictl_migrate, "apply pending database migrations"},
    {"sites", "add", mochictl_sites_add, "add a site: prints its id and tracking key"},
    {"sites", "list", mochictl_sites_list, "list the sites"},
    {"sites", "update", mochictl_sites_update, "change a site's time zone or name"},
    {"sites", "remove", mochictl_sites_remove, "remove a site and all its data"},
    {"topics", "ensure", mochictl_topics_ensure,
     "create the page-view and dead-letter topics, or report how they differ"},
    {NULL, "lag", mochictl_lag, "committed offset, log end offset and lag per group and partition"},
    {NULL, "replay", mochictl_replay, "rebuild the aggregates of a date range from the topic"},
    {NULL, "stats", mochictl_stats,
     "a site's daily numbers, top pages, sources and entry pages, in its zone"},
    {NULL, "prune", mochictl_prune, "drop raw events and dedupe state past their retention"},
    {"users", "add", mochictl_users_add,
     "add a dashboard user (password from stdin or asked; never a flag)"},
    {"users", "passwd", mochictl_users_passwd, "set a user's password and end their sessions"},
    {"users", "grant", mochictl_users_grant, "give a user a role (viewer or admin) on a site"},
    {"users", "revoke", mochictl_users_revoke, "take a user's role on a site away"},
    {"users", "remove", mochictl_users_remove, "remove a user with their roles and sessions"},
    {"users", "list", mochictl_users_list, "list the users and the sites they may see"},
    {"tokens", "create", mochictl_tokens_create,
     "make an API token for one site: printed once, stored as a hash"},
    {"tokens", "list", mochictl_tokens_list, "list the API tokens (never the tokens themselves)"},
    {"tokens", "revoke", mochictl_tokens_revoke, "revoke an API token"},
    {"shares", "create", mochictl_shares_create, "make a read-only public link to a dashboard"},
    {"shares", "list", mochictl_shares_list, "list the share links"},
    {"shares", "revoke", mochictl_shares_revoke, "revoke a share link"},
};

static void usage(FILE *out)
{
    fprintf(out, "Usage: mochictl COMMAND [OPTIONS]   (mochictl COMMAND --help for its options)\n\n"
                 "Commands:\n");
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        char name[64];
        snprintf(name, sizeof(name), "%s%s%s", commands[i].group ? commands[i].group : "",
                 commands[i].group ? " " : "", commands[i].name);
        fprintf(out, "  %-16s %s\n", name, commands[i].summary);
    }
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return 0;
    }
    if (mochi_hash_init() != 0) {
        fprintf(stderr, "mochictl: libsodium failed to initialise\n");
        return 1;
    }
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        const struct command *c = &commands[i];
        if (c->group == NULL && strcmp(argv[1], c->name) == 0)
            return c->run(argc - 1, argv + 1);
        if (c->group != NULL && strcmp(argv[1], c->group) == 0 && argc >= 3 &&
            strcmp(argv[2], c->name) == 0)
            return c->run(argc - 2, argv + 2);
    }
    char subcommands[256] = "";
    size_t used = 0;
    for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
        if (commands[i].group && strcmp(argv[1], commands[i].group) == 0 &&
            used < sizeof(subcommands)) {
            int n = snprintf(subcommands + used, sizeof(subcommands) - used, "%s%s",
                             used ? ", " : "", commands[i].name);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (used > 0) {
        fprintf(stderr, "mochictl: '%s' needs a subcommand: %s\n", argv[1], subcommands);
        return 2;
    }
    fprintf(stderr, "mochictl: unknown command '%s' (see mochictl --help)\n", argv[1]);
    return 2;
}
