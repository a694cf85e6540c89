/* The documentation and the deployment files agree with the programs.
 *
 * The built programs' own --help and --print-config are the truth. This
 * test reads README.md, the Markdown files of docs/, compose/README.md,
 * compose/docker-compose.yml and compose/Dockerfile, and fails, naming the
 * file and the offending word, when:
 *  - they name a MOCHI_* variable or a --flag that no program has (a flag
 *    written after a program's name must be that program's, or that
 *    mochictl command's);
 *  - the compose file does not parse (python3 with PyYAML), a service runs
 *    something that is not a Mochi program, passes it a variable or flag it
 *    does not take, gives it values its --print-config refuses, publishes
 *    or health-checks a port its listen settings do not use, logs in as
 *    another database role than its --help names or with a password nobody
 *    sets, uses a topic no service creates, or starts before the migrations
 *    and topics;
 *  - compose/Dockerfile's build stage lacks a package scripts/install-deps.sh
 *    or the CMake pkg-config modules need, builds other cmake targets than
 *    the README, or its runtime stage lacks the package of a shared library
 *    the programs link;
 *  - docs/configuration.md is not what scripts/gen-config-docs.sh makes now;
 *  - docs/metrics.md and the metrics the daemons register differ.
 * Needs no database or broker. The last test feeds the checkers wrong
 * input to show that they do fail. */
#include <ctype.h>
#include <glob.h>
#include <jansson.h>
#include <limits.h>
#include <regex.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "tests/harness/harness.h"

#define MAX_PROGRAMS 64
#define MAX_TOKENS 256

/* ---- small helpers ---- */

static char *xstrdup(const char *s)
{
    char *p = strdup(s);
    if (p == NULL)
        fail_msg("out of memory");
    return p;
}

static char *xstrndup(const char *s, size_t n)
{
    char *p = strndup(s, n);
    if (p == NULL)
        fail_msg("out of memory");
    return p;
}

__attribute__((format(printf, 1, 2))) static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0)
        fail_msg("out of memory");
    return p;
}

static int exit_code(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

/* Runs argv (argv[0] a path) with extra environment; returns the exit code.
 * *out and *err (if non-NULL) get malloc'd text owned by the caller. */
static int run(char *const argv[], char *const env[], char **out, char **err)
{
    return exit_code(mochi_test_run(argv, env, 60000, out, err));
}

/* A file of the source tree, or NULL when it does not exist. */
static char *read_src(const char *relative)
{
    return mochi_test_read_file(mochi_test_src(relative));
}

static int line_of(const char *text, size_t offset)
{
    int line = 1;
    for (size_t i = 0; i < offset && text[i]; i++)
        if (text[i] == '\n')
            line++;
    return line;
}

static void trim(char *s)
{
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1]))
        s[--n] = '\0';
    size_t k = 0;
    while (isspace((unsigned char)s[k]))
        k++;
    memmove(s, s + k, n - k + 1);
}

static void compile(regex_t *rx, const char *pattern, int flags)
{
    if (regcomp(rx, pattern, REG_EXTENDED | flags) != 0)
        fail_msg("bad regular expression %s", pattern);
}

/* Next match of rx in text at or after *pos; offsets in m are made
 * relative to text. Returns false at the end. */
static bool next_match(const regex_t *rx, const char *text, size_t *pos, regmatch_t *m, size_t nm)
{
    size_t len = strlen(text);
    if (*pos > len)
        return false;
    if (regexec(rx, text + *pos, nm, m, *pos > 0 && text[*pos - 1] != '\n' ? REG_NOTBOL : 0) != 0)
        return false;
    for (size_t i = 0; i < nm; i++) {
        if (m[i].rm_so >= 0) {
            m[i].rm_so += (regoff_t)*pos;
            m[i].rm_eo += (regoff_t)*pos;
        }
    }
    *pos = (size_t)(m[0].rm_eo > m[0].rm_so ? m[0].rm_eo : m[0].rm_eo + 1);
    return true;
}

static char *group_text(const char *text, const regmatch_t *m)
{
    return xstrndup(text + m->rm_so, (size_t)(m->rm_eo - m->rm_so));
}

/* ---- sets of words ---- */

struct words {
    char **v;
    size_t n, cap;
};

static bool words_has(const struct words *w, const char *s)
{
    for (size_t i = 0; i < w->n; i++)
        if (strcmp(w->v[i], s) == 0)
            return true;
    return false;
}

static void words_add(struct words *w, const char *s)
{
    if (words_has(w, s))
        return;
    if (w->n == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 16;
        w->v = realloc(w->v, w->cap * sizeof(char *));
        if (w->v == NULL)
            fail_msg("out of memory");
    }
    w->v[w->n++] = xstrdup(s);
}

static void words_clear(struct words *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->v[i]);
    free(w->v);
    memset(w, 0, sizeof(*w));
}

/* "a, b, c" into buf. */
static const char *words_join(const struct words *w, char *buf, size_t size)
{
    buf[0] = '\0';
    for (size_t i = 0; i < w->n; i++) {
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, "%s%s", i ? ", " : "", w->v[i]);
    }
    if (w->n == 0)
        snprintf(buf, size, "(none)");
    return buf;
}

/* For "K=V" entries: the value of name, or NULL. */
static const char *words_value(const struct words *w, const char *name)
{
    size_t len = strlen(name);
    for (size_t i = 0; i < w->n; i++)
        if (strncmp(w->v[i], name, len) == 0 && w->v[i][len] == '=')
            return w->v[i] + len + 1;
    return NULL;
}

/* ---- problems found, reported together ---- */

struct report {
    struct words lines;
};

__attribute__((format(printf, 2, 3))) static void report_add(struct report *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *p = NULL;
    int n = vasprintf(&p, fmt, ap);
    va_end(ap);
    if (n < 0)
        fail_msg("out of memory");
    words_add(&r->lines, p);
    free(p);
}

static bool report_mentions(const struct report *r, const char *word)
{
    for (size_t i = 0; i < r->lines.n; i++)
        if (strstr(r->lines.v[i], word) != NULL)
            return true;
    return false;
}

/* Prints every problem (one line each: cmocka's messages are short) and
 * fails the test when there is any. */
static void report_check(struct report *r, const char *what)
{
    size_t n = r->lines.n;
    for (size_t i = 0; i < n; i++)
        print_error("  %s\n", r->lines.v[i]);
    words_clear(&r->lines);
    if (n > 0)
        fail_msg("%s: %zu problem%s, listed above", what, n, n == 1 ? "" : "s");
}

/* ---- what the programs say about themselves ---- */

struct program {
    char name[96]; /* "mochi-collector", "mochictl lag" */
    char bin[64];  /* "mochi-collector", "mochictl" */
    char *help;
    struct words flags; /* "--brokers", ... */
    struct words envs;  /* "MOCHI_KAFKA_BROKERS", ... */
    char role[64];      /* database role its --help says to use, or "" */
    bool serves_healthz;
};

static struct program programs[MAX_PROGRAMS];
static size_t nprograms;
static bool loaded;
static struct words binaries;      /* program file names */
static struct words all_flags;     /* every flag of every program */
static struct words all_envs;      /* every MOCHI_* variable a program reads */
static struct words getenv_envs;   /* read with getenv() outside the settings tables */
static struct words cmake_options; /* option(MOCHI_...) in CMakeLists.txt */
static struct words components;    /* mochi_stream components: "consumer", "rollup" */

/* The repository's scripts (scripts/ directory): the flags their `case` parses and
 * the MOCHI_* variables they read count as existing too (the demo's). */
struct script {
    char name[64]; /* "demo.sh" */
    struct words flags;
};
static struct script scripts[32];
static size_t nscripts;

static const struct script *find_script(const char *name)
{
    for (size_t i = 0; i < nscripts; i++)
        if (strcmp(scripts[i].name, name) == 0)
            return &scripts[i];
    return NULL;
}

static void load_scripts(void)
{
    glob_t g;
    char full[PATH_MAX];
    snprintf(full, sizeof(full), "%s", mochi_test_src("scripts/*"));
    if (glob(full, 0, NULL, &g) != 0)
        return;
    regex_t flag_rx, env_rx;
    /* a case pattern: "--runs)", "--help | -h)", "--rate=*)" */
    compile(&flag_rx, "(^|[[:space:]|(])(--[a-z][a-z0-9-]*)(=\\*)?[[:space:]]*[|)]", REG_NEWLINE);
    compile(&env_rx, "\\$\\{?(MOCHI_[A-Z0-9_]+)", 0);
    for (size_t i = 0; i < g.gl_pathc && nscripts < 32; i++) {
        char *text = mochi_test_read_file(g.gl_pathv[i]);
        if (text == NULL)
            continue;
        struct script *sc = &scripts[nscripts++];
        snprintf(sc->name, sizeof(sc->name), "%s", strrchr(g.gl_pathv[i], '/') + 1);
        regmatch_t m[3];
        size_t pos = 0;
        while (next_match(&flag_rx, text, &pos, m, 3)) {
            char *f = group_text(text, &m[2]);
            words_add(&sc->flags, f);
            words_add(&all_flags, f);
            free(f);
        }
        pos = 0;
        while (next_match(&env_rx, text, &pos, m, 2)) {
            char *e = group_text(text, &m[1]);
            words_add(&all_envs, e);
            free(e);
        }
        free(text);
    }
    regfree(&flag_rx);
    regfree(&env_rx);
    globfree(&g);
}

static const struct program *find_program(const char *name)
{
    for (size_t i = 0; i < nprograms; i++)
        if (strcmp(programs[i].name, name) == 0)
            return &programs[i];
    return NULL;
}

static void parse_help(struct program *p)
{
    regex_t env_rx, role_rx;
    compile(&env_rx, "\\[env (MOCHI_[A-Z0-9_]+)\\]", 0);
    compile(&role_rx, "should use the ([a-z_][a-z0-9_]*) role", 0);
    regmatch_t m[2];
    size_t pos = 0;
    while (next_match(&env_rx, p->help, &pos, m, 2)) {
        char *e = group_text(p->help, &m[1]);
        words_add(&p->envs, e);
        words_add(&all_envs, e);
        free(e);
    }
    pos = 0;
    if (next_match(&role_rx, p->help, &pos, m, 2)) {
        char *role = group_text(p->help, &m[1]);
        snprintf(p->role, sizeof(p->role), "%s", role);
        free(role);
    }
    regfree(&env_rx);
    regfree(&role_rx);
    /* Option lines: "  --flag HINT   help". */
    const char *line = p->help;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (len > 4 && strncmp(line, "  --", 4) == 0) {
            size_t n = 2;
            while (n < len && !isspace((unsigned char)line[n]))
                n++;
            char *flag = xstrndup(line + 2, n - 2);
            words_add(&p->flags, flag);
            words_add(&all_flags, flag);
            free(flag);
        }
        line += len + (end ? 1 : 0);
    }
    words_add(&p->flags, "--help");
    p->serves_healthz = strstr(p->help, "/healthz") != NULL;
}

/* Adds the program "bin [w1 [w2]]" from its --help. */
static struct program *load_program(const char *bin, const char *w1, const char *w2)
{
    if (nprograms == MAX_PROGRAMS)
        fail_msg("too many programs");
    struct program *p = &programs[nprograms++];
    memset(p, 0, sizeof(*p));
    snprintf(p->bin, sizeof(p->bin), "%s", bin);
    snprintf(p->name, sizeof(p->name), "%s%s%s%s%s", bin, w1 ? " " : "", w1 ? w1 : "",
             w2 ? " " : "", w2 ? w2 : "");
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", mochi_test_bin(bin));
    char *argv[5] = {path};
    int argc = 1;
    if (w1)
        argv[argc++] = (char *)w1;
    if (w2)
        argv[argc++] = (char *)w2;
    argv[argc++] = (char *)"--help";
    argv[argc] = NULL;
    char *err = NULL;
    int code = run(argv, NULL, &p->help, &err);
    if (code != 0)
        fail_msg("'%s --help' exited %d: %s", p->name, code, err);
    free(err);
    parse_help(p);
    return p;
}

static void scan_getenv(const char *pattern)
{
    glob_t g;
    char full[PATH_MAX];
    snprintf(full, sizeof(full), "%s", mochi_test_src(pattern));
    if (glob(full, 0, NULL, &g) != 0)
        return;
    regex_t rx;
    compile(&rx, "getenv\\(\"(MOCHI_[A-Z0-9_]+)\"\\)", 0);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char *text = mochi_test_read_file(g.gl_pathv[i]);
        regmatch_t m[2];
        size_t pos = 0;
        while (text && next_match(&rx, text, &pos, m, 2)) {
            char *e = group_text(text, &m[1]);
            words_add(&getenv_envs, e);
            words_add(&all_envs, e);
            free(e);
        }
        free(text);
    }
    regfree(&rx);
    globfree(&g);
}

static void scan_components(const char *pattern)
{
    glob_t g;
    char full[PATH_MAX];
    snprintf(full, sizeof(full), "%s", mochi_test_src(pattern));
    if (glob(full, 0, NULL, &g) != 0)
        return;
    regex_t rx;
    compile(&rx, "\\.component = \"([a-z]+)\"", 0);
    for (size_t i = 0; i < g.gl_pathc; i++) {
        char *text = mochi_test_read_file(g.gl_pathv[i]);
        regmatch_t m[2];
        size_t pos = 0;
        while (text && next_match(&rx, text, &pos, m, 2)) {
            char *c = group_text(text, &m[1]);
            words_add(&components, c);
            free(c);
        }
        free(text);
    }
    regfree(&rx);
    globfree(&g);
}

static void forget_programs(void)
{
    for (size_t i = 0; i < nprograms; i++) {
        free(programs[i].help);
        words_clear(&programs[i].flags);
        words_clear(&programs[i].envs);
    }
    nprograms = 0;
    for (size_t i = 0; i < nscripts; i++)
        words_clear(&scripts[i].flags);
    nscripts = 0;
    words_clear(&binaries);
    words_clear(&all_flags);
    words_clear(&all_envs);
    words_clear(&getenv_envs);
    words_clear(&cmake_options);
    words_clear(&components);
    loaded = false;
}

/* Asks every program CMakeLists.txt builds for its --help (mochictl for
 * each of its commands), once. */
static void load_programs(void)
{
    if (loaded)
        return;
    forget_programs(); /* what a failed earlier attempt left */
    char *cmake = read_src("CMakeLists.txt");
    assert_non_null(cmake);
    regex_t rx;
    regmatch_t m[3];
    compile(&rx, "\"([a-z][a-z0-9-]*):([a-z/]+)\"", 0);
    size_t pos = 0;
    while (next_match(&rx, cmake, &pos, m, 3)) {
        char *name = group_text(cmake, &m[1]);
        char *dir = group_text(cmake, &m[2]);
        char *main_c = xasprintf("%s/main.c", dir);
        struct stat st;
        if (stat(mochi_test_src(main_c), &st) == 0)
            words_add(&binaries, name);
        free(main_c);
        free(dir);
        free(name);
    }
    regfree(&rx);
    compile(&rx, "option\\((MOCHI_[A-Z0-9_]+)", 0);
    pos = 0;
    while (next_match(&rx, cmake, &pos, m, 2)) {
        char *o = group_text(cmake, &m[1]);
        words_add(&cmake_options, o);
        free(o);
    }
    regfree(&rx);
    free(cmake);
    if (binaries.n == 0)
        fail_msg("CMakeLists.txt names no program");

    for (size_t i = 0; i < binaries.n; i++) {
        struct program *p = load_program(binaries.v[i], NULL, NULL);
        if (strcmp(p->bin, "mochictl") != 0)
            continue;
        /* "Commands:" then "  sites add        add a site: ..." */
        char *help = xstrdup(p->help);
        const char *commands = strstr(help, "\nCommands:\n");
        if (commands == NULL)
            fail_msg("mochictl --help lists no commands");
        char *save = NULL;
        for (char *line = strtok_r((char *)commands + 11, "\n", &save); line != NULL;
             line = strtok_r(NULL, "\n", &save)) {
            if (strncmp(line, "  ", 2) != 0 || !islower((unsigned char)line[2]))
                break;
            char *gap = strstr(line + 2, "  ");
            if (gap)
                *gap = '\0';
            char *w1 = line + 2;
            char *w2 = strchr(w1, ' ');
            if (w2)
                *w2++ = '\0';
            load_program("mochictl", w1, w2);
        }
        free(help);
    }
    scan_getenv("common/*.c");
    scan_getenv("stream/*.c");
    scan_getenv("collector/*.c");
    scan_getenv("consumer/*.c");
    scan_getenv("rollup/*.c");
    scan_getenv("tools/*/*.c");
    scan_components("*/main.c");
    /* Settings the programs read are unset below; the scripts' own
     * variables (read after this) are not. */
    for (size_t i = 0; i < all_envs.n; i++)
        unsetenv(all_envs.v[i]);
    load_scripts();
    loaded = true;
}

/* ---- names in text: MOCHI_* variables and --flags ---- */

static bool env_known(const char *name, bool prefix)
{
    if (!prefix)
        return words_has(&all_envs, name) || words_has(&cmake_options, name);
    for (size_t i = 0; i < all_envs.n; i++)
        if (strncmp(all_envs.v[i], name, strlen(name)) == 0)
            return true;
    return false;
}

/* Every MOCHI_* word of text must be a variable some program reads (or a
 * CMake option); "MOCHI_LOADGEN_*" must be the prefix of one. */
static void check_env_words(const char *label, const char *text, struct report *r)
{
    regex_t rx;
    compile(&rx, "MOCHI_[A-Z0-9_]*[A-Z0-9]", 0);
    regmatch_t m[1];
    size_t pos = 0;
    while (next_match(&rx, text, &pos, m, 1)) {
        size_t start = (size_t)m[0].rm_so;
        if (start > 0 && (isalnum((unsigned char)text[start - 1]) || text[start - 1] == '_'))
            continue;
        size_t after = (size_t)m[0].rm_eo;
        while (text[after] == '_')
            after++;
        bool prefix = text[after] == '*';
        char *name = group_text(text, &m[0]);
        if (!env_known(name, prefix))
            report_add(r, "%s:%d: %s%s is not an environment variable of any program%s", label,
                       line_of(text, start), name, prefix ? "*" : "",
                       prefix ? "" : " (see the programs' --help)");
        free(name);
    }
    regfree(&rx);
}

/* "--name" from a token such as "[--json]" or "--rewind=time,"; false if
 * the token is not a long flag. */
static bool token_flag(const char *tok, char *buf, size_t size)
{
    while (*tok && strchr("[({\"'`<", *tok))
        tok++;
    if (tok[0] != '-' || tok[1] != '-' || !islower((unsigned char)tok[2]))
        return false;
    size_t n = 2;
    while (islower((unsigned char)tok[n]) || isdigit((unsigned char)tok[n]) || tok[n] == '-')
        n++;
    while (n > 2 && tok[n - 1] == '-')
        n--;
    if (n >= size)
        return false;
    memcpy(buf, tok, n);
    buf[n] = '\0';
    return true;
}

/* A word without surrounding punctuation, and its last path component. */
static void token_word(const char *tok, char *buf, size_t size, bool basename)
{
    while (*tok && strchr("[({\"'`<$", *tok))
        tok++;
    if (basename && strrchr(tok, '/'))
        tok = strrchr(tok, '/') + 1;
    snprintf(buf, size, "%s", tok);
    size_t n = strlen(buf);
    while (n > 0 && strchr(")]}\"'`>,.:;", buf[n - 1]))
        buf[--n] = '\0';
}

/* A token that runs a program: its path, with nothing after it ("mochictl,"
 * in a list of names is not a command). Its file name goes into buf. */
static bool command_word(const char *tok, char *buf, size_t size)
{
    while (*tok && strchr("[(\"'`$", *tok))
        tok++;
    size_t n = strlen(tok);
    if (n == 0 || strchr(")]}\"'`>,.:;", tok[n - 1]))
        return false;
    token_word(tok, buf, size, true);
    return true;
}

static bool is_placeholder(const char *w)
{
    if (!isupper((unsigned char)w[0]))
        return false;
    for (; *w; w++)
        if (!isupper((unsigned char)*w) && *w != '_')
            return false;
    return true;
}

/* Words that may stand before a command: FOO=bar, sudo, env, ... */
static bool is_command_prefix(const char *tok)
{
    static const char *const words[] = {"sudo", "env", "exec", "time", "nohup", "$", NULL};
    for (size_t i = 0; words[i]; i++)
        if (strcmp(tok, words[i]) == 0)
            return true;
    size_t n = 0;
    while (isalnum((unsigned char)tok[n]) || tok[n] == '_')
        n++;
    return n > 0 && tok[n] == '=' && !isdigit((unsigned char)tok[0]);
}

static bool flag_of_any_mochictl_command(const char *flag)
{
    for (size_t i = 0; i < nprograms; i++)
        if (strcmp(programs[i].bin, "mochictl") == 0 && words_has(&programs[i].flags, flag))
            return true;
    return false;
}

/* The flag tok[i] follows program tok[j]: it must be one of that
 * program's (for mochictl, of the command named after it). */
static void check_program_flag(const char *label, int lineno, char **tok, int j, int i,
                               const char *bin, const char *flag, struct report *r)
{
    const struct program *p = NULL;
    if (strcmp(bin, "mochictl") == 0 && j + 1 < i) {
        char w1[64], w2[64], name[160];
        token_word(tok[j + 1], w1, sizeof(w1), false);
        w2[0] = '\0';
        if (j + 2 < i)
            token_word(tok[j + 2], w2, sizeof(w2), false);
        snprintf(name, sizeof(name), "mochictl %s %s", w1, w2);
        p = find_program(name);
        if (p == NULL) {
            snprintf(name, sizeof(name), "mochictl %s", w1);
            p = find_program(name);
        }
        if (p == NULL && is_placeholder(w1)) {
            if (!flag_of_any_mochictl_command(flag))
                report_add(r, "%s:%d: %s is not an option of any mochictl command", label, lineno,
                           flag);
            return;
        }
        if (p == NULL) {
            report_add(r, "%s:%d: mochictl has no command '%s' (see mochictl --help)", label,
                       lineno, w1);
            return;
        }
    } else {
        p = find_program(bin);
    }
    if (p != NULL && !words_has(&p->flags, flag))
        report_add(r, "%s:%d: %s is not an option of %s (see `%s --help`)", label, lineno, flag,
                   p->name, p->name);
}

/* One shell command (or a piece of prose when prose is true). A flag after
 * a Mochi program's name must be that program's, after a script of
 * scripts/ that script's; a flag of another command (cmake, docker, ...) is
 * not checked; a flag on its own (prose, a table cell) must be some
 * program's or script's. */
static void check_segment(const char *label, int lineno, const char *segment, bool prose,
                          struct report *r)
{
    char *copy = xstrdup(segment);
    char *tok[MAX_TOKENS];
    int ntok = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, " \t\r\n", &save); t != NULL && ntok < MAX_TOKENS;
         t = strtok_r(NULL, " \t\r\n", &save))
        tok[ntok++] = t;
    for (int i = 0; !prose && i + 1 < ntok; i++) {
        /* "mochictl WORD [WORD]" must name one of its commands (or group). */
        char bin[128], w1[64], w2[64], name[200];
        if (!command_word(tok[i], bin, sizeof(bin)))
            continue;
        token_word(tok[i + 1], w1, sizeof(w1), false);
        if (strcmp(bin, "mochictl") != 0 || !islower((unsigned char)w1[0]))
            continue;
        w2[0] = '\0';
        if (i + 2 < ntok)
            token_word(tok[i + 2], w2, sizeof(w2), false);
        snprintf(name, sizeof(name), "mochictl %s %s", w1, w2);
        bool known = find_program(name) != NULL;
        snprintf(name, sizeof(name), "mochictl %s", w1);
        known = known || find_program(name) != NULL;
        for (size_t k = 0; k < nprograms && !known; k++)
            known = strncmp(programs[k].name, name, strlen(name)) == 0 &&
                    programs[k].name[strlen(name)] == ' ';
        if (!known)
            report_add(r, "%s:%d: mochictl has no command '%s' (see mochictl --help)", label,
                       lineno, w1);
    }
    for (int i = 0; i < ntok; i++) {
        char flag[64];
        if (!token_flag(tok[i], flag, sizeof(flag)))
            continue;
        int j = -1;
        char bin[128];
        /* The first program of the command runs; a later name is an argument
         * ("mochictl lag --group mochi-rollup"). */
        for (int k = 0; !prose && k < i && j < 0; k++)
            if (command_word(tok[k], bin, sizeof(bin)) && words_has(&binaries, bin))
                j = k;
        if (j >= 0) {
            check_program_flag(label, lineno, tok, j, i, bin, flag, r);
            continue;
        }
        int first = 0;
        while (!prose && first < i && is_command_prefix(tok[first]))
            first++;
        if (!prose && first < i &&
            (strcmp(tok[first], "bash") == 0 || strcmp(tok[first], "sh") == 0))
            first++;
        char word[128];
        const struct script *sc = NULL;
        if (!prose && first < i && command_word(tok[first], word, sizeof(word)))
            sc = find_script(word);
        if (sc != NULL) {
            if (!words_has(&sc->flags, flag))
                report_add(r, "%s:%d: %s is not an option of scripts/%s", label, lineno, flag,
                           sc->name);
            continue;
        }
        if (!prose && first < i)
            continue; /* another command's flag */
        if (!words_has(&all_flags, flag))
            report_add(r, "%s:%d: %s is not an option of any program (see their --help)", label,
                       lineno, flag);
    }
    free(copy);
}

/* A line of shell, split into commands at && || ; | &. A "# comment" is
 * checked the same way, as it often shows a command. */
static void check_code_line(const char *label, int lineno, const char *line, struct report *r)
{
    char *code = xstrdup(line);
    for (size_t i = 0; code[i]; i++) {
        if (code[i] == '#' && (i == 0 || isspace((unsigned char)code[i - 1]))) {
            check_code_line(label, lineno, code + i + 1, r);
            code[i] = '\0';
            break;
        }
    }
    for (size_t i = 0; code[i]; i++)
        if (code[i] == ';' || code[i] == '|' || code[i] == '&')
            code[i] = '\n';
    char *save = NULL;
    for (char *seg = strtok_r(code, "\n", &save); seg != NULL; seg = strtok_r(NULL, "\n", &save))
        check_segment(label, lineno, seg, false, r);
    free(code);
}

/* A paragraph of Markdown prose starting at line first: each `code span`
 * (which may wrap lines) is checked as a command, the rest as prose. */
static void check_paragraph(const char *label, int first, const char *text, struct report *r)
{
    char *prose = xstrdup(text);
    size_t i = 0;
    while (text[i]) {
        if (text[i] != '`') {
            i++;
            continue;
        }
        size_t run = 0;
        while (text[i + run] == '`')
            run++;
        /* the closing run of the same length */
        size_t k = i + run;
        size_t close = 0;
        while (text[k]) {
            if (text[k] == '`') {
                size_t n = 0;
                while (text[k + n] == '`')
                    n++;
                if (n == run) {
                    close = k;
                    break;
                }
                k += n;
            } else {
                k++;
            }
        }
        if (close == 0) {
            i += run;
            continue;
        }
        char *span = xstrndup(text + i + run, close - i - run);
        for (char *c = span; *c; c++)
            if (*c == '\n')
                *c = ' ';
        check_code_line(label, first + line_of(text, i) - 1, span, r);
        free(span);
        for (size_t c = i; c < close + run; c++)
            if (prose[c] != '\n')
                prose[c] = ' ';
        i = close + run;
    }
    char *save = NULL;
    for (char *l = strtok_r(prose, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
        check_segment(label, first + line_of(text, (size_t)(l - prose)) - 1, l, true, r);
    free(prose);
}

/* Checks the MOCHI_* words and --flags of a Markdown file. */
static void check_markdown(const char *label, const char *text, struct report *r)
{
    check_env_words(label, text, r);
    bool fence = false;
    char fence_char = 0;
    char *pending = NULL; /* a code line continued with a backslash */
    int pending_line = 0;
    char *para = NULL; /* prose lines up to a blank line or a fence */
    int para_line = 0;
    int lineno = 0;
    const char *line = text;
    while (*line) {
        lineno++;
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *l = xstrndup(line, len);
        const char *t = l;
        for (int s = 0; s < 3 && *t == ' '; s++)
            t++;
        bool is_fence = (strncmp(t, "```", 3) == 0 || strncmp(t, "~~~", 3) == 0) &&
                        (!fence || t[0] == fence_char);
        bool blank = strspn(l, " \t") == strlen(l);
        if (para && (is_fence || blank || fence)) {
            check_paragraph(label, para_line, para, r);
            free(para);
            para = NULL;
        }
        if (is_fence) {
            fence = !fence;
            fence_char = t[0];
        } else if (fence) {
            size_t n = strlen(l);
            bool continued = n > 0 && l[n - 1] == '\\';
            if (continued)
                l[n - 1] = ' ';
            char *joined = pending ? xasprintf("%s %s", pending, l) : xstrdup(l);
            if (pending == NULL)
                pending_line = lineno;
            free(pending);
            pending = joined;
            if (!continued) {
                check_code_line(label, pending_line, pending, r);
                free(pending);
                pending = NULL;
            }
        } else if (!blank) {
            char *joined = para ? xasprintf("%s\n%s", para, l) : xstrdup(l);
            if (para == NULL)
                para_line = lineno;
            free(para);
            para = joined;
        }
        free(l);
        line += len + (end ? 1 : 0);
    }
    if (para) {
        check_paragraph(label, para_line, para, r);
        free(para);
    }
    if (pending) {
        check_code_line(label, pending_line, pending, r);
        free(pending);
    }
}

/* ---- compose/docker-compose.yml ---- */

/* The compose file as JSON (python3 -c 'yaml.safe_load'), or NULL with the
 * reason in *why (malloc'd). */
static json_t *load_yaml(const char *path, char **why)
{
    char *argv[] = {(char *)"/usr/bin/env",
                    (char *)"python3",
                    (char *)"-c",
                    (char *)"import json, sys, yaml\n"
                            "with open(sys.argv[1]) as f:\n"
                            "    json.dump(yaml.safe_load(f), sys.stdout)\n",
                    (char *)path,
                    NULL};
    char *out = NULL, *err = NULL;
    int code = run(argv, NULL, &out, &err);
    json_t *root = NULL;
    if (code != 0) {
        if (strstr(err, "No module named 'yaml'") || code == 127)
            *why = xasprintf("python3 with PyYAML is needed to parse it (Debian: python3-yaml, "
                             "see scripts/install-deps.sh): %s",
                             err);
        else
            *why = xasprintf("it does not parse as YAML: %s", err);
    } else {
        json_error_t jerr;
        root = json_loads(out, 0, &jerr);
        if (root == NULL)
            *why = xasprintf("its YAML did not convert to JSON: %s", jerr.text);
    }
    free(out);
    free(err);
    return root;
}

/* A YAML scalar as text ("" for null). */
static char *scalar_text(const json_t *v)
{
    if (json_is_string(v))
        return xstrdup(json_string_value(v));
    if (json_is_integer(v))
        return xasprintf("%lld", (long long)json_integer_value(v));
    if (json_is_real(v))
        return xasprintf("%g", json_real_value(v));
    if (json_is_true(v))
        return xstrdup("true");
    if (json_is_false(v))
        return xstrdup("false");
    return xstrdup("");
}

struct service {
    const char *name;
    json_t *obj;
    bool ours; /* runs the image compose/Dockerfile builds */
    bool tool; /* in a profile: started on demand only */
    bool health;
    bool oneshot;
    char *argv[64];
    int argc;
    struct words env;       /* "K=V" */
    struct words effective; /* --print-config lines */
    const struct program *program;
    bool mochictl_any; /* mochictl with the command given at `docker compose run` */
};

static void add_args(struct service *s, const json_t *v)
{
    if (json_is_string(v)) {
        char *copy = xstrdup(json_string_value(v));
        char *save = NULL;
        for (char *t = strtok_r(copy, " \t\n", &save); t && s->argc < 63;
             t = strtok_r(NULL, " \t\n", &save))
            s->argv[s->argc++] = xstrdup(t);
        free(copy);
    } else if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
        {
            if (s->argc < 63)
                s->argv[s->argc++] = scalar_text(e);
        }
    }
}

/* argv joined with spaces (caller frees). */
static char *joined_args(const struct service *s)
{
    size_t len = 1;
    for (int i = 0; i < s->argc; i++)
        len += strlen(s->argv[i]) + 1;
    char *text = calloc(1, len);
    if (text == NULL)
        fail_msg("out of memory");
    for (int i = 0; i < s->argc; i++) {
        strcat(text, s->argv[i]);
        strcat(text, i + 1 < s->argc ? " " : "");
    }
    return text;
}

static struct service *find_service(struct service *svcs, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(svcs[i].name, name) == 0)
            return &svcs[i];
    return NULL;
}

/* "host:port" pieces of an address "HOST:PORT" or "[V6]:PORT". */
static void split_address(const char *addr, char *host, size_t hsize, char *port, size_t psize)
{
    const char *colon = strrchr(addr, ':');
    if (colon == NULL) {
        snprintf(host, hsize, "%s", addr);
        port[0] = '\0';
        return;
    }
    size_t hlen = (size_t)(colon - addr);
    if (hlen >= 2 && addr[0] == '[' && addr[hlen - 1] == ']')
        snprintf(host, hsize, "%.*s", (int)(hlen - 2), addr + 1);
    else
        snprintf(host, hsize, "%.*s", (int)hlen, addr);
    snprintf(port, psize, "%s", colon + 1);
}

/* The container side of a "ports:" or "expose:" entry. */
static char *container_port(const json_t *entry)
{
    if (json_is_object(entry))
        return scalar_text(json_object_get(entry, "target"));
    char *text = scalar_text(entry);
    char *slash = strchr(text, '/');
    if (slash)
        *slash = '\0';
    char *colon = strrchr(text, ':');
    char *port = xstrdup(colon ? colon + 1 : text);
    free(text);
    return port;
}

struct db_url {
    char user[512], password[512], host[512];
};

/* Parses a postgresql:// URI or a key=value conninfo (enough for compose). */
static void parse_db_url(const char *url, struct db_url *u)
{
    memset(u, 0, sizeof(*u));
    const char *scheme = strstr(url, "://");
    if (scheme != NULL) {
        const char *rest = scheme + 3;
        const char *slash = strchr(rest, '/');
        size_t authlen = slash ? (size_t)(slash - rest) : strlen(rest);
        char auth[512];
        snprintf(auth, sizeof(auth), "%.*s", (int)authlen, rest);
        char *at = strrchr(auth, '@');
        char *hostpart = auth;
        if (at) {
            *at = '\0';
            hostpart = at + 1;
            char *colon = strchr(auth, ':');
            if (colon) {
                *colon = '\0';
                snprintf(u->password, sizeof(u->password), "%s", colon + 1);
            }
            snprintf(u->user, sizeof(u->user), "%s", auth);
        }
        char port[32];
        split_address(hostpart, u->host, sizeof(u->host), port, sizeof(port));
        return;
    }
    char *copy = xstrdup(url);
    char *save = NULL;
    for (char *kv = strtok_r(copy, " ", &save); kv; kv = strtok_r(NULL, " ", &save)) {
        if (strncmp(kv, "user=", 5) == 0)
            snprintf(u->user, sizeof(u->user), "%s", kv + 5);
        else if (strncmp(kv, "password=", 9) == 0)
            snprintf(u->password, sizeof(u->password), "%s", kv + 9);
        else if (strncmp(kv, "host=", 5) == 0)
            snprintf(u->host, sizeof(u->host), "%s", kv + 5);
    }
    free(copy);
}

static bool is_loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "localhost") == 0 ||
           strcmp(host, "::1") == 0;
}

/* Packages of the runtime stage, when known, to check healthcheck tools. */
static struct words runtime_packages;
static bool runtime_packages_known;

/* Reads one service: image, command, environment. */
static void read_service(const char *label, const char *compose_dir, const char *our_dockerfile,
                         struct service *s, struct report *r)
{
    json_t *build = json_object_get(s->obj, "build");
    if (build != NULL) {
        const char *context = json_is_string(build)
                                  ? json_string_value(build)
                                  : json_string_value(json_object_get(build, "context"));
        const char *dockerfile =
            json_is_object(build) ? json_string_value(json_object_get(build, "dockerfile")) : NULL;
        char *path = xasprintf("%s/%s/%s", compose_dir, context ? context : ".",
                               dockerfile ? dockerfile : "Dockerfile");
        char real[PATH_MAX], ours[PATH_MAX];
        if (realpath(path, real) == NULL)
            report_add(r, "%s: service %s builds from %s, which does not exist", label, s->name,
                       path);
        else if (realpath(our_dockerfile, ours) != NULL && strcmp(real, ours) == 0)
            s->ours = true;
        free(path);
    }
    s->tool = json_object_get(s->obj, "profiles") != NULL;
    json_t *health = json_object_get(s->obj, "healthcheck");
    s->health = health != NULL && !json_is_true(json_object_get(health, "disable"));
    const char *restart = json_string_value(json_object_get(s->obj, "restart"));
    s->oneshot = !s->health && !s->tool && json_object_get(s->obj, "ports") == NULL &&
                 (restart == NULL || strcmp(restart, "no") == 0);
    add_args(s, json_object_get(s->obj, "entrypoint"));
    add_args(s, json_object_get(s->obj, "command"));
    json_t *env = json_object_get(s->obj, "environment");
    if (json_is_object(env)) {
        const char *key;
        json_t *value;
        json_object_foreach(env, key, value)
        {
            if (json_is_null(value))
                continue; /* taken from the shell running compose */
            char *v = scalar_text(value);
            char *kv = xasprintf("%s=%s", key, v);
            words_add(&s->env, kv);
            free(kv);
            free(v);
        }
    } else if (json_is_array(env)) {
        size_t i;
        json_t *e;
        json_array_foreach(env, i, e)
        {
            if (json_is_string(e) && strchr(json_string_value(e), '='))
                words_add(&s->env, json_string_value(e));
        }
    }
}

/* The image of another service that builds ours counts as ours. */
static void mark_our_images(struct service *svcs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const char *image = json_string_value(json_object_get(svcs[i].obj, "image"));
        if (!svcs[i].ours || image == NULL)
            continue;
        for (size_t k = 0; k < n; k++) {
            const char *other = json_string_value(json_object_get(svcs[k].obj, "image"));
            if (other && strcmp(other, image) == 0)
                svcs[k].ours = true;
        }
    }
}

/* Which Mochi program a service of our image runs, and whether its flags
 * and variables are that program's. */
static void check_our_service(const char *label, struct service *s, struct report *r)
{
    if (s->argc == 0) {
        report_add(r, "%s: service %s has no command, and the image has none", label, s->name);
        return;
    }
    char bin[128];
    token_word(s->argv[0], bin, sizeof(bin), true);
    if (!words_has(&binaries, bin)) {
        char all[512];
        report_add(r, "%s: service %s runs '%s', which is not a Mochi program (%s)", label, s->name,
                   s->argv[0], words_join(&binaries, all, sizeof(all)));
        return;
    }
    int first_flag = 1;
    if (strcmp(bin, "mochictl") == 0) {
        if (s->argc == 1) {
            s->mochictl_any = true;
        } else {
            char name[192];
            snprintf(name, sizeof(name), "mochictl %s %s", s->argv[1],
                     s->argc > 2 ? s->argv[2] : "");
            s->program = s->argc > 2 ? find_program(name) : NULL;
            first_flag = 3;
            if (s->program == NULL) {
                snprintf(name, sizeof(name), "mochictl %s", s->argv[1]);
                s->program = find_program(name);
                first_flag = 2;
            }
            if (s->program == NULL) {
                report_add(r, "%s: service %s runs mochictl %s, which is not a mochictl command",
                           label, s->name, s->argv[1]);
                return;
            }
        }
    } else {
        s->program = find_program(bin);
    }
    for (int i = first_flag; s->program && i < s->argc; i++) {
        char flag[64];
        if (token_flag(s->argv[i], flag, sizeof(flag)) && !words_has(&s->program->flags, flag))
            report_add(r, "%s: service %s passes %s, which is not an option of %s", label, s->name,
                       flag, s->program->name);
    }
    for (size_t i = 0; i < s->env.n; i++) {
        char name[128];
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(s->env.v[i], "="), s->env.v[i]);
        if (strncmp(name, "MOCHI_", 6) != 0 || words_has(&getenv_envs, name))
            continue;
        bool known = false;
        if (s->program)
            known = words_has(&s->program->envs, name);
        for (size_t k = 0; s->mochictl_any && k < nprograms && !known; k++)
            known = strcmp(programs[k].bin, "mochictl") == 0 && words_has(&programs[k].envs, name);
        if (!known)
            report_add(r, "%s: service %s sets %s, which %s does not read", label, s->name, name,
                       s->program ? s->program->name : bin);
    }
    if (s->tool || s->program == NULL)
        return; /* started with its arguments at `docker compose run` */
    /* The program itself judges the values, as it would at start. */
    char *argv[72];
    int argc = 0;
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s", mochi_test_bin(bin));
    argv[argc++] = path;
    for (int i = 1; i < s->argc && argc < 70; i++)
        argv[argc++] = s->argv[i];
    argv[argc++] = (char *)"--print-config";
    argv[argc] = NULL;
    char **env = calloc(s->env.n + 1, sizeof(char *));
    if (env == NULL)
        fail_msg("out of memory");
    for (size_t i = 0; i < s->env.n; i++)
        env[i] = s->env.v[i];
    char *out = NULL, *err = NULL;
    int code = run(argv, env, &out, &err);
    free(env);
    if (code != 0) {
        trim(err);
        report_add(r,
                   "%s: service %s: `%s --print-config` with the service's environment "
                   "exits %d: %s",
                   label, s->name, s->program->name, code, err);
    } else {
        char *save = NULL;
        for (char *l = strtok_r(out, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
            words_add(&s->effective, l);
    }
    free(out);
    free(err);
}

/* Its listen settings against its ports and healthcheck. */
static void check_ports(const char *label, struct service *s, struct report *r)
{
    const char *listen = words_value(&s->effective, "MOCHI_LISTEN");
    const char *metrics = words_value(&s->effective, "MOCHI_METRICS_LISTEN");
    const char *healthz = metrics ? metrics : listen;
    char lhost[256] = "", lport[32] = "", mhost[256] = "", mport[32] = "";
    if (listen)
        split_address(listen, lhost, sizeof(lhost), lport, sizeof(lport));
    if (metrics)
        split_address(metrics, mhost, sizeof(mhost), mport, sizeof(mport));
    static const char *const keys[] = {"ports", "expose"};
    for (size_t k = 0; k < 2; k++) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(s->obj, keys[k]), i, e)
        {
            char *port = container_port(e);
            const char *host = strcmp(port, lport) == 0   ? lhost
                               : strcmp(port, mport) == 0 ? mhost
                                                          : NULL;
            if (host == NULL)
                report_add(r, "%s: service %s %s container port %s, but %s listens on %s%s%s%s%s",
                           label, s->name, k == 0 ? "publishes" : "exposes", port, s->program->name,
                           listen ? listen : "", listen ? " (MOCHI_LISTEN)" : "",
                           listen && metrics ? " and " : "", metrics ? metrics : "",
                           metrics ? " (MOCHI_METRICS_LISTEN)" : "");
            else if (is_loopback(host))
                report_add(r,
                           "%s: service %s %s port %s, but %s binds it to %s inside the "
                           "container: nothing outside the container reaches it",
                           label, s->name, k == 0 ? "publishes" : "exposes", port, s->program->name,
                           host);
            free(port);
        }
    }
    if (!s->program->serves_healthz || healthz == NULL)
        return;
    json_t *health = json_object_get(s->obj, "healthcheck");
    if (!s->health) {
        report_add(r, "%s: service %s (%s) has no healthcheck; it serves /healthz on %s", label,
                   s->name, s->program->name, healthz);
        return;
    }
    json_t *test = json_object_get(health, "test");
    char *text = NULL;
    if (json_is_array(test)) {
        struct service tmp = {0};
        add_args(&tmp, test);
        text = joined_args(&tmp);
        /* The tool the check runs must be in the image. */
        int first = tmp.argc > 0 && strncmp(tmp.argv[0], "CMD", 3) == 0 ? 1 : 0;
        if (tmp.argc > first && runtime_packages_known) {
            char tool[128];
            token_word(tmp.argv[first], tool, sizeof(tool), true);
            if (!words_has(&runtime_packages, tool) && !words_has(&binaries, tool))
                report_add(r,
                           "%s: service %s's healthcheck runs %s, which compose/Dockerfile's "
                           "runtime stage does not install",
                           label, s->name, tool);
        }
        for (int i = 0; i < tmp.argc; i++)
            free(tmp.argv[i]);
    } else {
        text = scalar_text(test);
    }
    char hport[32] = "";
    split_address(healthz, (char[256]){0}, 256, hport, sizeof(hport));
    regex_t rx;
    compile(&rx, "https?://[^/: ]+:([0-9]+)(/[^ \"']*)", 0);
    regmatch_t m[3];
    size_t pos = 0;
    if (!next_match(&rx, text, &pos, m, 3)) {
        report_add(r, "%s: service %s's healthcheck fetches no http://HOST:PORT/healthz URL", label,
                   s->name);
    } else {
        char *port = group_text(text, &m[1]);
        char *path = group_text(text, &m[2]);
        if (strcmp(port, hport) != 0 || strcmp(path, "/healthz") != 0)
            report_add(r,
                       "%s: service %s's healthcheck fetches port %s path %s, but %s serves "
                       "/healthz on %s",
                       label, s->name, port, path, s->program->name, healthz);
        free(port);
        free(path);
    }
    regfree(&rx);
    free(text);
}

/* depth-first: does from reach to through depends_on? */
static bool reaches(struct service *svcs, size_t n, const struct service *from, const char *to,
                    int depth)
{
    if (depth > 32)
        return false;
    json_t *deps = json_object_get(from->obj, "depends_on");
    if (json_is_object(deps)) {
        const char *key;
        json_t *value;
        json_object_foreach(deps, key, value)
        {
            struct service *d = find_service(svcs, n, key);
            if (strcmp(key, to) == 0 || (d && reaches(svcs, n, d, to, depth + 1)))
                return true;
        }
    } else if (json_is_array(deps)) {
        size_t i;
        json_t *e;
        json_array_foreach(deps, i, e)
        {
            const char *key = json_string_value(e);
            struct service *d = key ? find_service(svcs, n, key) : NULL;
            if ((key && strcmp(key, to) == 0) || (d && reaches(svcs, n, d, to, depth + 1)))
                return true;
        }
    }
    return false;
}

static void check_depends_on(const char *label, struct service *svcs, size_t n,
                             const struct service *s, struct report *r)
{
    json_t *deps = json_object_get(s->obj, "depends_on");
    if (json_is_array(deps)) {
        size_t i;
        json_t *e;
        json_array_foreach(deps, i, e)
        {
            const char *key = json_string_value(e);
            if (key == NULL || find_service(svcs, n, key) == NULL)
                report_add(r, "%s: service %s depends on unknown service %s", label, s->name,
                           key ? key : "?");
        }
        return;
    }
    const char *key;
    json_t *value;
    json_object_foreach(deps, key, value)
    {
        struct service *d = find_service(svcs, n, key);
        const char *cond = json_string_value(json_object_get(value, "condition"));
        if (cond == NULL)
            cond = "service_started";
        if (d == NULL) {
            report_add(r, "%s: service %s depends on unknown service %s", label, s->name, key);
            continue;
        }
        if (strcmp(cond, "service_started") != 0 && strcmp(cond, "service_healthy") != 0 &&
            strcmp(cond, "service_completed_successfully") != 0)
            report_add(r, "%s: service %s waits for %s with unknown condition %s", label, s->name,
                       key, cond);
        else if (d->health && strcmp(cond, "service_healthy") != 0)
            report_add(r,
                       "%s: service %s waits for %s with %s, but %s has a healthcheck: use "
                       "service_healthy",
                       label, s->name, key, cond, key);
        else if (!d->health && strcmp(cond, "service_healthy") == 0)
            report_add(r, "%s: service %s waits for %s to be healthy, but %s has no healthcheck",
                       label, s->name, key, key);
        else if (d->oneshot && strcmp(cond, "service_completed_successfully") != 0)
            report_add(r,
                       "%s: service %s waits for one-shot %s with %s: use "
                       "service_completed_successfully",
                       label, s->name, key, cond);
    }
}

struct topic {
    char name[256];
    long partitions;
    const char *service;
};

/* kafka-topics.sh --create ... --topic NAME --partitions N, or mochictl
 * topics ensure [--topic NAME] --partitions N, in a command. */
static size_t find_topics(const struct service *s, struct topic *topics, size_t ntopics, size_t max)
{
    char *text = joined_args(s);
    for (size_t i = 0; text[i]; i++)
        if (text[i] == ';' || text[i] == '&' || text[i] == '|')
            text[i] = '\n';
    char *save = NULL;
    for (char *cmd = strtok_r(text, "\n", &save); cmd; cmd = strtok_r(NULL, "\n", &save)) {
        bool ensure = strstr(cmd, "mochictl topics ensure") != NULL;
        if ((!ensure && (strstr(cmd, "kafka-topics") == NULL || strstr(cmd, "--create") == NULL)) ||
            ntopics + 2 > max)
            continue;
        struct topic *t = &topics[ntopics];
        memset(t, 0, sizeof(*t));
        t->service = s->name;
        char *save2 = NULL;
        char *prev = NULL;
        for (char *w = strtok_r(cmd, " \t", &save2); w; w = strtok_r(NULL, " \t", &save2)) {
            if (prev && strcmp(prev, "--topic") == 0)
                snprintf(t->name, sizeof(t->name), "%s", w);
            if (prev && strcmp(prev, "--partitions") == 0)
                t->partitions = strtol(w, NULL, 10);
            prev = w;
        }
        if (ensure) {
            /* mochictl topics ensure: the page-view topic (--topic, else
             * MOCHI_TOPIC, else the default) and its dead-letter topic. */
            const char *env_topic = words_value(&s->effective, "MOCHI_TOPIC");
            if (t->name[0] == '\0')
                snprintf(t->name, sizeof(t->name), "%s", env_topic ? env_topic : "mochi.pageviews");
            struct topic *dlq = &topics[ntopics + 1];
            dlq->partitions = t->partitions;
            dlq->service = t->service;
            char name[sizeof(dlq->name)];
            snprintf(name, sizeof(name), "%.250s.dlq", t->name);
            memcpy(dlq->name, name, sizeof(name));
            ntopics++;
        }
        if (t->name[0])
            ntopics++;
    }
    free(text);
    return ntopics;
}

static const struct topic *find_topic(const struct topic *topics, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(topics[i].name, name) == 0)
            return &topics[i];
    return NULL;
}

/* The whole compose document. compose_dir resolves build contexts. */
static void check_compose(const char *label, const char *compose_dir, json_t *root,
                          struct report *r)
{
    json_t *services = json_object_get(root, "services");
    if (!json_is_object(services) || json_object_size(services) == 0) {
        report_add(r, "%s: no services", label);
        return;
    }
    size_t n = json_object_size(services);
    struct service *svcs = calloc(n, sizeof(*svcs));
    if (svcs == NULL)
        fail_msg("out of memory");
    char our_dockerfile[PATH_MAX];
    snprintf(our_dockerfile, sizeof(our_dockerfile), "%s", mochi_test_src("compose/Dockerfile"));
    size_t k = 0;
    const char *key;
    json_t *value;
    json_object_foreach(services, key, value)
    {
        svcs[k].name = key;
        svcs[k].obj = value;
        read_service(label, compose_dir, our_dockerfile, &svcs[k], r);
        k++;
    }
    mark_our_images(svcs, n);

    /* Passwords the file sets: ALTER ROLE in commands, POSTGRES_* of the server. */
    struct words passwords = {0}; /* "role=password" */
    regex_t alter;
    compile(&alter, "ALTER ROLE ([a-z_][a-z0-9_]*) (WITH )?([A-Z]+ )*PASSWORD '([^']*)'",
            REG_ICASE);
    struct topic topics[32];
    size_t ntopics = 0;
    for (size_t i = 0; i < n; i++) {
        struct service *s = &svcs[i];
        char *text = joined_args(s);
        regmatch_t m[5];
        size_t pos = 0;
        while (next_match(&alter, text, &pos, m, 5)) {
            char *role = group_text(text, &m[1]);
            char *pw = group_text(text, &m[4]);
            char *kv = xasprintf("%s=%s", role, pw);
            words_add(&passwords, kv);
            free(kv);
            free(pw);
            free(role);
        }
        free(text);
        const char *pg_user = words_value(&s->env, "POSTGRES_USER");
        const char *pg_password = words_value(&s->env, "POSTGRES_PASSWORD");
        if (pg_password) {
            char *kv = xasprintf("%s=%s", pg_user ? pg_user : "postgres", pg_password);
            words_add(&passwords, kv);
            free(kv);
        }
        ntopics = find_topics(s, topics, ntopics, 32);
    }
    regfree(&alter);

    const struct service *migrate = NULL;
    for (size_t i = 0; i < n; i++) {
        struct service *s = &svcs[i];
        if (!s->ours) {
            for (size_t e = 0; e < s->env.n; e++)
                if (strncmp(s->env.v[e], "MOCHI_", 6) == 0)
                    report_add(r, "%s: service %s sets %.*s but does not run a Mochi program",
                               label, s->name, (int)strcspn(s->env.v[e], "="), s->env.v[e]);
            const char *adv = words_value(&s->env, "KAFKA_ADVERTISED_LISTENERS");
            const char *roles = words_value(&s->env, "KAFKA_PROCESS_ROLES");
            if (adv && (roles == NULL || strstr(roles, "controller") == NULL))
                report_add(r,
                           "%s: service %s runs Kafka without a KRaft controller "
                           "(KAFKA_PROCESS_ROLES)",
                           label, s->name);
            check_depends_on(label, svcs, n, s, r);
            continue;
        }
        check_our_service(label, s, r);
        check_depends_on(label, svcs, n, s, r);
        if (s->program && strcmp(s->program->name, "mochictl migrate") == 0 && !s->tool)
            migrate = s;
        if (s->program && !s->tool && s->effective.n > 0)
            check_ports(label, s, r);
        /* Its database login. */
        const char *url = words_value(&s->env, "MOCHI_DATABASE_URL");
        if (url != NULL) {
            struct db_url u;
            parse_db_url(url, &u);
            if (s->program && s->program->role[0] && strcmp(u.user, s->program->role) != 0)
                report_add(r,
                           "%s: service %s logs in to PostgreSQL as '%s', but %s should use "
                           "the %s role (see its --help)",
                           label, s->name, u.user, s->program->name, s->program->role);
            const char *set = words_value(&passwords, u.user);
            if (set == NULL)
                report_add(r,
                           "%s: service %s logs in as role %s, but no service gives %s a "
                           "password (ALTER ROLE %s PASSWORD '...')",
                           label, s->name, u.user, u.user, u.user);
            else if (strcmp(set, u.password) != 0)
                report_add(r,
                           "%s: service %s logs in as role %s with another password than the "
                           "one the compose file sets for it",
                           label, s->name, u.user);
            if (u.host[0] && find_service(svcs, n, u.host) == NULL)
                report_add(r, "%s: service %s's MOCHI_DATABASE_URL names host %s, not a service",
                           label, s->name, u.host);
        }
        /* Its brokers: each one a service's advertised listener. */
        const char *brokers = words_value(&s->env, "MOCHI_KAFKA_BROKERS");
        if (brokers != NULL) {
            char *copy = xstrdup(brokers);
            char *save = NULL;
            for (char *b = strtok_r(copy, ",", &save); b; b = strtok_r(NULL, ",", &save)) {
                trim(b);
                char host[256], port[32];
                split_address(b, host, sizeof(host), port, sizeof(port));
                struct service *broker = find_service(svcs, n, host);
                const char *adv =
                    broker ? words_value(&broker->env, "KAFKA_ADVERTISED_LISTENERS") : NULL;
                char *want = xasprintf("://%s", b);
                if (broker == NULL)
                    report_add(r, "%s: service %s's MOCHI_KAFKA_BROKERS names %s, not a service",
                               label, s->name, host);
                else if (adv && strstr(adv, want) == NULL)
                    report_add(r,
                               "%s: service %s's MOCHI_KAFKA_BROKERS has %s, which is not one "
                               "of %s's KAFKA_ADVERTISED_LISTENERS (%s)",
                               label, s->name, b, host, adv);
                free(want);
            }
            free(copy);
        }
    }

    /* The pipeline: migrations first, topics created, enough partitions. */
    if (migrate == NULL)
        report_add(r, "%s: no service runs mochictl migrate", label);
    for (size_t i = 0; i < n; i++) {
        struct service *s = &svcs[i];
        const char *topic = words_value(&s->effective, "MOCHI_TOPIC");
        if (!s->ours || s->tool || s->program == NULL || !s->program->serves_healthz)
            continue;
        if (migrate && !reaches(svcs, n, s, migrate->name, 0))
            report_add(r, "%s: service %s does not wait for %s (the migrations)", label, s->name,
                       migrate->name);
        if (topic == NULL)
            continue;
        char dlq[300];
        snprintf(dlq, sizeof(dlq), "%s.dlq", topic);
        const char *const names[] = {topic, dlq};
        for (size_t t = 0; t < 2; t++) {
            const struct topic *made = find_topic(topics, ntopics, names[t]);
            if (made == NULL)
                report_add(r,
                           "%s: service %s uses topic %s, which no service creates "
                           "(kafka-topics.sh --create --topic %s)",
                           label, s->name, names[t], names[t]);
            else if (!reaches(svcs, n, s, made->service, 0))
                report_add(r, "%s: service %s does not wait for %s, which creates topic %s", label,
                           s->name, made->service, names[t]);
        }
        const struct topic *made = find_topic(topics, ntopics, topic);
        size_t members = 0;
        for (size_t o = 0; o < n; o++)
            if (svcs[o].program == s->program && !svcs[o].tool)
                members++;
        if (made && made->partitions < 2)
            report_add(r,
                       "%s: topic %s has %ld partition(s): give it several so that consumers "
                       "can share it",
                       label, topic, made->partitions);
        else if (made && (long)members > made->partitions)
            report_add(r,
                       "%s: %zu services run %s but topic %s has %ld partitions: the extra "
                       "members would sit idle",
                       label, members, s->program->name, topic, made->partitions);
    }

    words_clear(&passwords);
    for (size_t i = 0; i < n; i++) {
        for (int a = 0; a < svcs[i].argc; a++)
            free(svcs[i].argv[a]);
        words_clear(&svcs[i].env);
        words_clear(&svcs[i].effective);
    }
    free(svcs);
}

/* ---- compose/Dockerfile ---- */

#define MAX_STAGES 8

struct dockerfile {
    int nstages;
    struct words packages[MAX_STAGES]; /* apt-get install */
    struct words env[MAX_STAGES];      /* ENV "K=V" */
    struct words targets;              /* cmake --build --target (build stage) */
    bool cmake_build;
};

/* Lines without comments, continuations joined (caller frees). */
static char *logical_lines(const char *text)
{
    char *out = calloc(1, strlen(text) + 2);
    if (out == NULL)
        fail_msg("out of memory");
    size_t o = 0;
    const char *line = text;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        size_t s = 0;
        while (s < len && isspace((unsigned char)line[s]))
            s++;
        if (s < len && line[s] == '#') {
            line += len + (end ? 1 : 0);
            continue;
        }
        size_t e = len;
        while (e > 0 && isspace((unsigned char)line[e - 1]))
            e--;
        bool continued = e > 0 && line[e - 1] == '\\';
        memcpy(out + o, line, continued ? e - 1 : len);
        o += continued ? e - 1 : len;
        out[o++] = continued ? ' ' : '\n';
        line += len + (end ? 1 : 0);
    }
    out[o] = '\0';
    return out;
}

static bool is_separator(const char *w)
{
    return strcmp(w, "&&") == 0 || strcmp(w, "||") == 0 || strcmp(w, ";") == 0 ||
           strcmp(w, "|") == 0;
}

/* apt-get install's packages and cmake --build's targets in one command
 * line. */
static void scan_command_line(const char *line, struct words *packages, struct words *targets,
                              bool *cmake_build)
{
    char *copy = xstrdup(line);
    char *tok[MAX_TOKENS];
    int ntok = 0;
    char *save = NULL;
    for (char *t = strtok_r(copy, " \t", &save); t && ntok < MAX_TOKENS;
         t = strtok_r(NULL, " \t", &save))
        tok[ntok++] = t;
    for (int i = 0; i + 1 < ntok; i++) {
        if ((strcmp(tok[i], "apt-get") == 0 || strcmp(tok[i], "apt") == 0) && packages) {
            int k = i + 1;
            while (k < ntok && tok[k][0] == '-')
                k++;
            if (k >= ntok || strcmp(tok[k], "install") != 0)
                continue;
            for (k++; k < ntok && !is_separator(tok[k]); k++) {
                size_t len = strlen(tok[k]);
                bool last = len > 0 && tok[k][len - 1] == ';';
                if (last)
                    tok[k][len - 1] = '\0';
                if (tok[k][0] != '-' && tok[k][0] != '\0' && tok[k][0] != '"')
                    words_add(packages, tok[k]);
                if (last)
                    break;
            }
        }
        if (strcmp(tok[i], "cmake") == 0 && strcmp(tok[i + 1], "--build") == 0) {
            *cmake_build = true;
            for (int k = i + 2; k < ntok && !is_separator(tok[k]); k++) {
                if (strcmp(tok[k], "--target") != 0 && strcmp(tok[k], "-t") != 0)
                    continue;
                for (k++; k < ntok && tok[k][0] != '-' && !is_separator(tok[k]); k++)
                    if (targets)
                        words_add(targets, tok[k]);
                k--;
            }
        }
    }
    free(copy);
}

static void parse_dockerfile(const char *text, struct dockerfile *d)
{
    memset(d, 0, sizeof(*d));
    char *lines = logical_lines(text);
    int stage = -1;
    char *save = NULL;
    for (char *l = strtok_r(lines, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        while (isspace((unsigned char)*l))
            l++;
        if (strncasecmp(l, "FROM ", 5) == 0) {
            if (stage + 1 < MAX_STAGES)
                stage++;
            d->nstages = stage + 1;
        } else if (stage >= 0 && strncasecmp(l, "RUN ", 4) == 0) {
            scan_command_line(l + 4, &d->packages[stage], stage == 0 ? &d->targets : NULL,
                              &d->cmake_build);
        } else if (stage >= 0 && strncasecmp(l, "ENV ", 4) == 0) {
            char *save2 = NULL;
            for (char *kv = strtok_r(l + 4, " \t", &save2); kv; kv = strtok_r(NULL, " \t", &save2))
                if (strchr(kv, '='))
                    words_add(&d->env[stage], kv);
        }
    }
    free(lines);
}

static void dockerfile_free(struct dockerfile *d)
{
    for (int i = 0; i < MAX_STAGES; i++) {
        words_clear(&d->packages[i]);
        words_clear(&d->env[i]);
    }
    words_clear(&d->targets);
}

/* Healthchecks of the compose file run in the runtime (last) stage. */
static void learn_runtime_packages(const struct dockerfile *d)
{
    words_clear(&runtime_packages);
    for (size_t i = 0; d->nstages > 0 && i < d->packages[d->nstages - 1].n; i++)
        words_add(&runtime_packages, d->packages[d->nstages - 1].v[i]);
    runtime_packages_known = d->nstages > 0;
}

/* The words of scripts/install-deps.sh's packages=( ... ). */
static void install_deps_packages(const char *text, struct words *out)
{
    const char *start = strstr(text, "packages=(");
    if (start == NULL)
        return;
    start += strlen("packages=(");
    const char *end = strchr(start, ')');
    char *list = xstrndup(start, end ? (size_t)(end - start) : strlen(start));
    char *save = NULL;
    for (char *w = strtok_r(list, " \t\n", &save); w; w = strtok_r(NULL, " \t\n", &save))
        words_add(out, w);
    free(list);
}

/* Runs a command and returns its first line of output, or NULL. */
static char *first_line(char *const argv[])
{
    char *out = NULL;
    int code = run(argv, NULL, &out, NULL);
    if (code != 0 || out == NULL || out[0] == '\0') {
        free(out);
        return NULL;
    }
    out[strcspn(out, "\n")] = '\0';
    return out;
}

/* The Debian package holding path, or NULL. */
static char *package_of(const char *path)
{
    char *argv[] = {(char *)"/usr/bin/env", (char *)"dpkg-query", (char *)"-S", (char *)path, NULL};
    char *line = first_line(argv);
    if (line == NULL) {
        char real[PATH_MAX];
        if (realpath(path, real) != NULL && strcmp(real, path) != 0)
            return package_of(real);
        return NULL;
    }
    line[strcspn(line, ":")] = '\0';
    return line;
}

static void check_dockerfile(const char *label, const char *text, struct report *r)
{
    struct dockerfile d;
    parse_dockerfile(text, &d);
    if (d.nstages < 2) {
        report_add(r, "%s: expected a build stage and a runtime stage, found %d stage(s)", label,
                   d.nstages);
        dockerfile_free(&d);
        return;
    }
    struct words *build = &d.packages[0];
    struct words *runtime = &d.packages[d.nstages - 1];
    char list[2048];

    /* Build stage: scripts/install-deps.sh's -dev packages and build tools. */
    char *deps_text = read_src("scripts/install-deps.sh");
    struct words deps = {0};
    if (deps_text)
        install_deps_packages(deps_text, &deps);
    free(deps_text);
    if (deps.n == 0)
        report_add(r, "scripts/install-deps.sh: no packages=( ... ) list found");
    static const char *const tools[] = {"build-essential", "cmake", "pkg-config", NULL};
    for (size_t i = 0; i < deps.n; i++) {
        const char *p = deps.v[i];
        bool needed = strlen(p) > 4 && strcmp(p + strlen(p) - 4, "-dev") == 0;
        /* libFuzzer's runtime serves scripts/fuzz.sh only, not the build. */
        needed = needed && strcmp(p, "libclang-rt-14-dev") != 0;
        for (size_t t = 0; tools[t]; t++)
            needed = needed || strcmp(p, tools[t]) == 0;
        if (needed && !words_has(build, p))
            report_add(r, "%s: the build stage does not install %s (scripts/install-deps.sh does)",
                       label, p);
    }
    for (size_t i = 0; i < build->n; i++) {
        const char *p = build->v[i];
        if (strlen(p) > 4 && strcmp(p + strlen(p) - 4, "-dev") == 0 && !words_has(&deps, p))
            report_add(r, "%s: the build stage installs %s, which scripts/install-deps.sh does not",
                       label, p);
    }

    /* Every pkg-config module the CMake files require: its -dev package. */
    regex_t rx;
    compile(&rx, "pkg_check_modules\\([A-Z_]+ +REQUIRED( +IMPORTED_TARGET)? +([A-Za-z0-9_.+-]+)\\)",
            0);
    static const char *const cmake_files[] = {"CMakeLists.txt", "cmake/MochiTest.cmake", NULL};
    for (size_t f = 0; cmake_files[f]; f++) {
        char *cm = read_src(cmake_files[f]);
        regmatch_t m[3];
        size_t pos = 0;
        while (cm && next_match(&rx, cm, &pos, m, 3)) {
            char *module = group_text(cm, &m[2]);
            char *argv[] = {(char *)"/usr/bin/env", (char *)"pkg-config",
                            (char *)"--variable=pcfiledir", module, NULL};
            char *dir = first_line(argv);
            char *pc = dir ? xasprintf("%s/%s.pc", dir, module) : NULL;
            char *pkg = pc ? package_of(pc) : NULL;
            if (pkg == NULL)
                report_add(r, "%s: cannot tell which Debian package provides pkg-config module %s",
                           cmake_files[f], module);
            else if (!words_has(build, pkg))
                report_add(r,
                           "%s: the build stage does not install %s, which provides the "
                           "pkg-config module %s that %s requires",
                           label, pkg, module, cmake_files[f]);
            else if (!words_has(&deps, pkg))
                report_add(r,
                           "scripts/install-deps.sh does not install %s, which provides the "
                           "pkg-config module %s that %s requires",
                           pkg, module, cmake_files[f]);
            free(pkg);
            free(pc);
            free(dir);
            free(module);
        }
        free(cm);
    }
    regfree(&rx);
    words_clear(&deps);

    /* The README's cmake targets. */
    char *readme = read_src("README.md");
    struct words readme_targets = {0};
    bool readme_build = false;
    if (readme) {
        char *lines = logical_lines(readme);
        char *save = NULL;
        for (char *l = strtok_r(lines, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
            scan_command_line(l, NULL, &readme_targets, &readme_build);
        free(lines);
    }
    free(readme);
    char list2[2048];
    if (!d.cmake_build)
        report_add(r, "%s: the build stage runs no `cmake --build`", label);
    else if (!readme_build)
        report_add(r, "README.md: no `cmake --build` command to compare compose/Dockerfile with");
    else if (d.targets.n != readme_targets.n)
        report_add(r, "%s builds cmake targets %s, README.md builds %s", label,
                   words_join(&d.targets, list, sizeof(list)),
                   words_join(&readme_targets, list2, sizeof(list2)));
    else
        for (size_t i = 0; i < d.targets.n; i++)
            if (!words_has(&readme_targets, d.targets.v[i]))
                report_add(r, "%s builds cmake target %s, README.md does not", label,
                           d.targets.v[i]);
    words_clear(&readme_targets);

    /* Runtime stage: the directories the programs look up, and the
     * package of every shared library they link. */
    for (size_t i = 0; i < getenv_envs.n; i++) {
        const char *e = getenv_envs.v[i];
        size_t len = strlen(e);
        if (len > 4 && strcmp(e + len - 4, "_DIR") == 0 && !words_value(&d.env[d.nstages - 1], e))
            report_add(r, "%s: the runtime stage does not set %s, which the programs read", label,
                       e);
    }
    struct words missing = {0};
    for (size_t b = 0; b < binaries.n; b++) {
        char path[PATH_MAX];
        snprintf(path, sizeof(path), "%s", mochi_test_bin(binaries.v[b]));
        char *argv_ldd[] = {(char *)"/usr/bin/env", (char *)"ldd", path, NULL};
        char *argv_elf[] = {(char *)"/usr/bin/env", (char *)"readelf", (char *)"-d", path, NULL};
        char *ldd = NULL, *elf = NULL;
        if (run(argv_elf, NULL, &elf, NULL) != 0 || run(argv_ldd, NULL, &ldd, NULL) != 0) {
            report_add(r, "cannot list the libraries of %s (readelf -d, ldd)", path);
            free(ldd);
            free(elf);
            continue;
        }
        regex_t needed;
        compile(&needed, "\\(NEEDED\\)[^[]*\\[([^]]+)\\]", 0);
        regmatch_t m[2];
        size_t pos = 0;
        while (next_match(&needed, elf, &pos, m, 2)) {
            char *soname = group_text(elf, &m[1]);
            char *want = xasprintf("\t%s => ", soname);
            const char *at = strstr(ldd, want);
            char lib[PATH_MAX] = "";
            if (at)
                sscanf(at + strlen(want), "%4095s", lib);
            char *pkg = lib[0] == '/' ? package_of(lib) : NULL;
            if (pkg == NULL) {
                report_add(r, "cannot tell which Debian package provides %s (linked by %s)", soname,
                           binaries.v[b]);
            } else {
                char *argv_q[] = {(char *)"/usr/bin/env",
                                  (char *)"dpkg-query",
                                  (char *)"-W",
                                  (char *)"--showformat=${Essential}${Protected}",
                                  pkg,
                                  NULL};
                char *flags = first_line(argv_q);
                bool base = strcmp(pkg, "libc6") == 0 || (flags && strstr(flags, "yes"));
                bool sanitizer = strncmp(pkg, "libasan", 7) == 0 ||
                                 strncmp(pkg, "libubsan", 8) == 0 ||
                                 strncmp(pkg, "liblsan", 7) == 0;
                if (!base && !sanitizer && !words_has(runtime, pkg) && !words_has(&missing, pkg)) {
                    words_add(&missing, pkg);
                    report_add(r,
                               "%s: the runtime stage does not install %s, which provides %s "
                               "(linked by %s)",
                               label, pkg, soname, binaries.v[b]);
                }
                free(flags);
            }
            free(pkg);
            free(want);
            free(soname);
        }
        regfree(&needed);
        free(ldd);
        free(elf);
    }
    words_clear(&missing);
    learn_runtime_packages(&d);
    dockerfile_free(&d);
}

/* ---- docs/metrics.md against the code ---- */

struct metric {
    char name[128];
    char type[32];
    struct words labels;
    char where[128];
};

#define MAX_METRICS 128

/* The string literal at the start of s (after spaces), or NULL. */
static char *literal_at(const char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    if (*s != '"')
        return NULL;
    const char *end = strchr(s + 1, '"');
    return end ? xstrndup(s + 1, (size_t)(end - s - 1)) : NULL;
}

/* Every mochi_metrics_counter/gauge/histogram call of the daemons' code:
 * name (a literal, or the format of the snprintf that built it, with %s
 * each stream component), type and label names. */
static size_t code_metrics(struct metric *out, size_t max)
{
    static const char *const patterns[] = {
        "collector/*.c", "consumer/*.c", "rollup/*.c", "common/*.c",
        "stream/*.c",    "tools/*/*.c",  NULL};
    size_t n = 0;
    char srcdir[PATH_MAX];
    snprintf(srcdir, sizeof(srcdir), "%s", mochi_test_src(""));
    regex_t call;
    compile(&call, "mochi_metrics_(counter|gauge|histogram)\\(", 0);
    for (size_t p = 0; patterns[p]; p++) {
        glob_t g;
        char full[PATH_MAX];
        snprintf(full, sizeof(full), "%s", mochi_test_src(patterns[p]));
        if (glob(full, 0, NULL, &g) != 0)
            continue;
        for (size_t f = 0; f < g.gl_pathc; f++) {
            const char *file = g.gl_pathv[f];
            if (strstr(file, "/common/metrics.c"))
                continue; /* the registry itself */
            char *text = mochi_test_read_file(file);
            const char *rel =
                strncmp(file, srcdir, strlen(srcdir)) == 0 ? file + strlen(srcdir) : file;
            regmatch_t m[2];
            size_t pos = 0;
            while (text && next_match(&call, text, &pos, m, 2)) {
                /* the arguments, split at top-level commas */
                const char *open = text + m[0].rm_eo;
                char *args[8] = {0};
                int nargs = 0, depth = 0;
                const char *start = open;
                bool in_string = false;
                for (const char *c = open; *c && nargs < 8; c++) {
                    if (in_string) {
                        if (*c == '\\' && c[1])
                            c++;
                        else if (*c == '"')
                            in_string = false;
                        continue;
                    }
                    if (*c == '"')
                        in_string = true;
                    else if (*c == '(' || *c == '{' || *c == '[')
                        depth++;
                    else if ((*c == ')' || *c == '}' || *c == ']') && depth > 0)
                        depth--;
                    else if ((*c == ',' && depth == 0) || *c == ')') {
                        args[nargs++] = xstrndup(start, (size_t)(c - start));
                        start = c + 1;
                        if (*c == ')')
                            break;
                    }
                }
                if (nargs < 5) {
                    for (int a = 0; a < nargs; a++)
                        free(args[a]);
                    continue; /* a declaration or a call we do not understand */
                }
                char *name = literal_at(args[1]);
                if (name == NULL) {
                    /* snprintf(IDENT, ..., "format", ...) before the call */
                    char ident[64];
                    snprintf(ident, sizeof(ident), "%s", args[1]);
                    trim(ident);
                    char *pat = xasprintf("snprintf\\(%s, [^,]*, \"([^\"]*)\"", ident);
                    regex_t sp;
                    compile(&sp, pat, 0);
                    regmatch_t sm[2];
                    size_t spos = 0;
                    char *last = NULL;
                    while (next_match(&sp, text, &spos, sm, 2) && sm[0].rm_so < m[0].rm_so) {
                        free(last);
                        last = group_text(text, &sm[1]);
                    }
                    regfree(&sp);
                    free(pat);
                    name = last;
                }
                struct words labels = {0};
                char labels_arg[128];
                snprintf(labels_arg, sizeof(labels_arg), "%s", args[4]);
                trim(labels_arg);
                if (strcmp(labels_arg, "NULL") != 0) {
                    char *pat = xasprintf("%s\\[\\] = \\{([^}]*)\\}", labels_arg);
                    regex_t lr;
                    compile(&lr, pat, 0);
                    regmatch_t lm[2];
                    size_t lpos = 0;
                    if (next_match(&lr, text, &lpos, lm, 2)) {
                        char *list = group_text(text, &lm[1]);
                        for (char *q = strchr(list, '"'); q; q = strchr(q, '"')) {
                            char *e = strchr(q + 1, '"');
                            if (!e)
                                break;
                            *e = '\0';
                            words_add(&labels, q + 1);
                            q = e + 1;
                        }
                        free(list);
                    }
                    regfree(&lr);
                    free(pat);
                }
                char type[16];
                snprintf(type, sizeof(type), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
                         text + m[1].rm_so);
                size_t expansions = name && strstr(name, "%s") ? components.n : 1;
                for (size_t c = 0; name && c < expansions && n < max; c++) {
                    struct metric *mt = &out[n++];
                    memset(mt, 0, sizeof(*mt));
                    if (strstr(name, "%s")) {
                        char *fmt = xstrdup(name);
                        char *at = strstr(fmt, "%s");
                        *at = '\0';
                        snprintf(mt->name, sizeof(mt->name), "%s%s%s", fmt, components.v[c],
                                 at + 2);
                        free(fmt);
                    } else {
                        snprintf(mt->name, sizeof(mt->name), "%s", name);
                    }
                    snprintf(mt->type, sizeof(mt->type), "%s", type);
                    snprintf(mt->where, sizeof(mt->where), "%s", rel);
                    for (size_t l = 0; l < labels.n; l++)
                        words_add(&mt->labels, labels.v[l]);
                }
                words_clear(&labels);
                free(name);
                for (int a = 0; a < nargs; a++)
                    free(args[a]);
            }
            free(text);
        }
        globfree(&g);
    }
    regfree(&call);
    return n;
}

/* Rows "| `name`[, `name`] | type | `label`, ... | meaning |" of the doc. */
static size_t doc_metrics(const char *text, struct metric *out, size_t max)
{
    size_t n = 0;
    const char *line = text;
    regex_t name_rx, label_rx;
    compile(&name_rx, "`(mochi_[a-z0-9_]+)`", 0);
    compile(&label_rx, "`([a-z_][a-z0-9_]*)`", 0);
    int lineno = 0;
    while (*line) {
        lineno++;
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char *l = xstrndup(line, len);
        line += len + (end ? 1 : 0);
        if (l[0] != '|') {
            free(l);
            continue;
        }
        char *cells[8] = {0};
        int ncells = 0;
        char *save = NULL;
        for (char *c = strtok_r(l + 1, "|", &save); c && ncells < 8; c = strtok_r(NULL, "|", &save))
            cells[ncells++] = c;
        if (ncells < 3) {
            free(l);
            continue;
        }
        char type[32];
        snprintf(type, sizeof(type), "%s", cells[1]);
        trim(type);
        struct words labels = {0};
        regmatch_t m[2];
        size_t pos = 0;
        while (next_match(&label_rx, cells[2], &pos, m, 2)) {
            char *lab = group_text(cells[2], &m[1]);
            words_add(&labels, lab);
            free(lab);
        }
        pos = 0;
        while (next_match(&name_rx, cells[0], &pos, m, 2) && n < max) {
            struct metric *mt = &out[n++];
            memset(mt, 0, sizeof(*mt));
            snprintf(mt->name, sizeof(mt->name), "%.*s", (int)(m[1].rm_eo - m[1].rm_so),
                     cells[0] + m[1].rm_so);
            snprintf(mt->type, sizeof(mt->type), "%s", type);
            snprintf(mt->where, sizeof(mt->where), "docs/metrics.md:%d", lineno);
            for (size_t k = 0; k < labels.n; k++)
                words_add(&mt->labels, labels.v[k]);
        }
        words_clear(&labels);
        free(l);
    }
    regfree(&name_rx);
    regfree(&label_rx);
    return n;
}

static bool same_words(const struct words *a, const struct words *b)
{
    if (a->n != b->n)
        return false;
    for (size_t i = 0; i < a->n; i++)
        if (!words_has(b, a->v[i]))
            return false;
    return true;
}

/* ---- the tests ---- */

static void test_docs_name_real_settings(void **state)
{
    (void)state;
    load_programs();
    struct report r = {0};
    char *readme = read_src("README.md");
    if (readme == NULL)
        report_add(&r, "README.md is missing");
    else
        check_markdown("README.md", readme, &r);
    free(readme);

    glob_t g;
    char pattern[PATH_MAX];
    snprintf(pattern, sizeof(pattern), "%s", mochi_test_src("docs/*.md"));
    if (glob(pattern, 0, NULL, &g) == 0) {
        for (size_t i = 0; i < g.gl_pathc; i++) {
            char *text = mochi_test_read_file(g.gl_pathv[i]);
            char label[PATH_MAX];
            snprintf(label, sizeof(label), "docs/%s", strrchr(g.gl_pathv[i], '/') + 1);
            if (text)
                check_markdown(label, text, &r);
            free(text);
        }
        globfree(&g);
    }
    static const char *const required[] = {"docs/configuration.md", "docs/metrics.md",
                                           "docs/operations.md", NULL};
    for (size_t i = 0; required[i]; i++) {
        struct stat st;
        if (stat(mochi_test_src(required[i]), &st) != 0)
            report_add(&r, "%s is missing", required[i]);
    }
    char *compose_readme = read_src("compose/README.md");
    if (compose_readme)
        check_markdown("compose/README.md", compose_readme, &r);
    free(compose_readme);
    /* Variables only here: their flags are checked service by service. */
    static const char *const files[] = {"compose/docker-compose.yml", "compose/Dockerfile", NULL};
    for (size_t i = 0; files[i]; i++) {
        char *text = read_src(files[i]);
        if (text == NULL)
            report_add(&r, "%s is missing", files[i]);
        else
            check_env_words(files[i], text, &r);
        free(text);
    }
    report_check(&r, "documentation names settings the programs do not have");
}

static void test_compose_agrees_with_programs(void **state)
{
    (void)state;
    load_programs();
    struct report r = {0};
    /* The Dockerfile's runtime packages tell which healthcheck tools exist. */
    char *dockerfile = read_src("compose/Dockerfile");
    if (dockerfile) {
        struct dockerfile d;
        parse_dockerfile(dockerfile, &d);
        learn_runtime_packages(&d);
        dockerfile_free(&d);
    }
    free(dockerfile);
    char path[PATH_MAX], dir[PATH_MAX];
    snprintf(path, sizeof(path), "%s", mochi_test_src("compose/docker-compose.yml"));
    snprintf(dir, sizeof(dir), "%s", mochi_test_src("compose"));
    char *why = NULL;
    json_t *root = load_yaml(path, &why);
    if (root == NULL)
        fail_msg("compose/docker-compose.yml: %s", why);
    check_compose("compose/docker-compose.yml", dir, root, &r);
    json_decref(root);
    report_check(&r, "compose/docker-compose.yml disagrees with the programs");
}

static void test_dockerfile_matches_build(void **state)
{
    (void)state;
    load_programs();
    struct report r = {0};
    char *text = read_src("compose/Dockerfile");
    if (text == NULL)
        fail_msg("compose/Dockerfile is missing");
    check_dockerfile("compose/Dockerfile", text, &r);
    free(text);
    report_check(&r, "compose/Dockerfile disagrees with the build");
}

static void test_configuration_md_is_current(void **state)
{
    (void)state;
    char tmp[PATH_MAX], script[PATH_MAX], bin[PATH_MAX], doc[PATH_MAX];
    snprintf(tmp, sizeof(tmp), "%s/configuration.md", mochi_test_tmpdir());
    snprintf(script, sizeof(script), "%s", mochi_test_src("scripts/gen-config-docs.sh"));
    snprintf(doc, sizeof(doc), "%s", mochi_test_src("docs/configuration.md"));
    snprintf(bin, sizeof(bin), "%s", mochi_test_bin(""));
    char *argv[] = {(char *)"/usr/bin/env", (char *)"bash", script, (char *)"-o", tmp, bin, NULL};
    char *err = NULL;
    int code = run(argv, NULL, NULL, &err);
    if (code != 0)
        fail_msg("scripts/gen-config-docs.sh exited %d: %s", code, err);
    free(err);
    char *want = mochi_test_read_file(tmp);
    char *have = mochi_test_read_file(doc);
    assert_non_null(want);
    if (have == NULL)
        fail_msg("docs/configuration.md is missing: run scripts/gen-config-docs.sh %s", bin);
    if (strcmp(want, have) != 0) {
        char *diff_argv[] = {(char *)"/usr/bin/env", (char *)"diff", (char *)"-u", doc, tmp, NULL};
        char *diff = NULL;
        run(diff_argv, NULL, &diff, NULL);
        /* cmocka prints at most about 1 KiB per message: line by line. */
        int lines = 0;
        char *save = NULL;
        for (char *l = strtok_r(diff, "\n", &save); l && lines < 60;
             l = strtok_r(NULL, "\n", &save), lines++)
            print_error("%s\n", l);
        free(diff);
        fail_msg("docs/configuration.md is out of date (diff above, '+' is what the programs "
                 "say now): run scripts/gen-config-docs.sh %s",
                 bin);
    }
    free(want);
    free(have);
}

static void test_metrics_md_lists_every_metric(void **state)
{
    (void)state;
    load_programs();
    static struct metric code[MAX_METRICS], doc[MAX_METRICS];
    size_t ncode = code_metrics(code, MAX_METRICS);
    assert_true(ncode > 0);
    char *text = read_src("docs/metrics.md");
    if (text == NULL)
        fail_msg("docs/metrics.md is missing");
    size_t ndoc = doc_metrics(text, doc, MAX_METRICS);
    free(text);
    struct report r = {0};
    char a[512], b[512];
    for (size_t i = 0; i < ncode; i++) {
        const struct metric *d = NULL;
        for (size_t k = 0; k < ndoc && !d; k++)
            if (strcmp(doc[k].name, code[i].name) == 0)
                d = &doc[k];
        if (d == NULL)
            report_add(&r, "docs/metrics.md does not list %s (a %s registered in %s)", code[i].name,
                       code[i].type, code[i].where);
        else if (strcmp(d->type, code[i].type) != 0)
            report_add(&r, "%s: %s is a %s in the doc but a %s in %s", d->where, d->name, d->type,
                       code[i].type, code[i].where);
        else if (!same_words(&d->labels, &code[i].labels))
            report_add(&r, "%s: %s has labels %s in the doc but %s in %s", d->where, d->name,
                       words_join(&d->labels, a, sizeof(a)),
                       words_join(&code[i].labels, b, sizeof(b)), code[i].where);
    }
    for (size_t k = 0; k < ndoc; k++) {
        bool found = false;
        for (size_t i = 0; i < ncode && !found; i++)
            found = strcmp(doc[k].name, code[i].name) == 0;
        if (!found)
            report_add(&r, "%s: %s is not a metric any daemon registers", doc[k].where,
                       doc[k].name);
    }
    for (size_t i = 0; i < ncode; i++)
        words_clear(&code[i].labels);
    for (size_t k = 0; k < ndoc; k++)
        words_clear(&doc[k].labels);
    report_check(&r, "docs/metrics.md and the code disagree");
}

/* The checkers catch what they are for (wrong input on purpose). */
static void test_checkers_catch_mistakes(void **state)
{
    (void)state;
    load_programs();
    struct report r = {0};
    check_markdown(
        "bad.md",
        "Run `mochictl lag --no-such-flag` or `mochictl frobnicate`.\n"
        "Set MOCHI_NOT_A_SETTING, or --also-bogus.\n"
        "```sh\n"
        "MOCHI_TOPIC=x mochi-collector --listen 0.0.0.0:8080 \\\n"
        "    --bogus-flag\n"
        "cmake --build build --not-ours && mochi-consumer --batch-size 5 # --in-comment\n"
        "bash scripts/gen-config-docs.sh --no-such-option\n"
        "```\n",
        &r);
    assert_true(report_mentions(&r, "bad.md:1: --no-such-flag is not an option of mochictl lag"));
    assert_true(report_mentions(&r, "mochictl has no command 'frobnicate'"));
    assert_true(report_mentions(&r, "bad.md:2: MOCHI_NOT_A_SETTING"));
    assert_true(report_mentions(&r, "bad.md:2: --also-bogus"));
    assert_true(report_mentions(&r, "bad.md:4: --bogus-flag is not an option of mochi-collector"));
    assert_true(report_mentions(&r, "--in-comment"));
    assert_false(report_mentions(&r, "--not-ours"));
    assert_false(report_mentions(&r, "--listen"));
    assert_false(report_mentions(&r, "--batch-size"));
    assert_true(report_mentions(&r, "bad.md:7: --no-such-option is not an option of "
                                    "scripts/gen-config-docs.sh"));
    assert_int_equal(r.lines.n, 7);
    words_clear(&r.lines);

    char dir[PATH_MAX];
    snprintf(dir, sizeof(dir), "%s", mochi_test_src("compose"));
    json_error_t jerr;
    json_t *root = json_loads(
        "{\"services\": {"
        " \"pg\": {\"image\": \"postgres:15\", \"environment\": {\"POSTGRES_PASSWORD\": \"pw\"},"
        "   \"healthcheck\": {\"test\": [\"CMD\", \"pg_isready\"]}},"
        " \"c\": {\"image\": \"mochi:local\", \"build\": {\"context\": \"..\", \"dockerfile\": "
        "\"compose/Dockerfile\"},"
        "   \"command\": [\"mochi-collector\"],"
        "   \"environment\": {\"MOCHI_LISTEN\": \"0.0.0.0:8080\", \"MOCHI_NOPE\": \"1\","
        "     \"MOCHI_BATCH_SIZE\": \"100\","
        "     \"MOCHI_DATABASE_URL\": \"postgresql://mochi_consumer:x@pg/mochi\"},"
        "   \"ports\": [\"8081:8081\"],"
        "   \"healthcheck\": {\"test\": [\"CMD\", \"curl\", \"http://127.0.0.1:8080/health\"]},"
        "   \"depends_on\": {\"pg\": {\"condition\": \"service_started\"}}},"
        " \"x\": {\"image\": \"mochi:local\", \"command\": [\"not-a-program\"]},"
        " \"y\": {\"image\": \"mochi:local\", \"command\": [\"mochi-rollup\", \"--nope\"],"
        "   \"profiles\": [\"tools\"]}}}",
        0, &jerr);
    assert_non_null(root);
    check_compose("bad.yml", dir, root, &r);
    json_decref(root);
    assert_true(report_mentions(&r, "passes --nope"));
    assert_true(report_mentions(&r, "sets MOCHI_NOPE"));
    assert_true(report_mentions(&r, "sets MOCHI_BATCH_SIZE"));
    assert_true(report_mentions(&r, "container port 8081"));
    assert_true(report_mentions(&r, "path /health,"));
    assert_true(report_mentions(&r, "should use the mochi_collector role"));
    assert_true(report_mentions(&r, "no service gives mochi_consumer a password"));
    assert_true(report_mentions(&r, "use service_healthy"));
    assert_true(report_mentions(&r, "runs 'not-a-program'"));
    assert_true(report_mentions(&r, "no service runs mochictl migrate"));
    assert_true(report_mentions(&r, "no service creates"));
    words_clear(&r.lines);

    char *text = read_src("compose/Dockerfile");
    assert_non_null(text);
    char *hole = strstr(text, " libpq-dev");
    assert_non_null(hole);
    memset(hole, ' ', strlen(" libpq-dev"));
    char *cmake_build = strstr(text, "&& cmake --build build -j");
    assert_non_null(cmake_build);
    cmake_build += 3;
    char *broken =
        xasprintf("%.*scmake --build build --target mochictl%s", (int)(cmake_build - text), text,
                  cmake_build + strlen("cmake --build build"));
    check_dockerfile("bad.Dockerfile", broken, &r);
    free(broken);
    free(text);
    assert_true(report_mentions(&r, "does not install libpq-dev"));
    assert_true(report_mentions(&r, "builds cmake targets mochictl, README.md builds (none)"));
    words_clear(&r.lines);
}

static int teardown(void **state)
{
    (void)state;
    forget_programs();
    words_clear(&runtime_packages);
    mochi_test_cleanup();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_docs_name_real_settings),
        cmocka_unit_test(test_compose_agrees_with_programs),
        cmocka_unit_test(test_dockerfile_matches_build),
        cmocka_unit_test(test_configuration_md_is_current),
        cmocka_unit_test(test_metrics_md_lists_every_metric),
        cmocka_unit_test(test_checkers_catch_mistakes),
    };
    return cmocka_run_group_tests(tests, NULL, teardown);
}
