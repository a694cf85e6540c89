/* The metrics server over real TCP sockets on loopback, with a tiny HTTP/1.1
 * client so the test needs no curl. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "common/error.h"
#include "common/http_metrics.h"
#include "common/metrics.h"

struct fixture {
    struct mochi_metrics *reg;
    struct mochi_metrics_server *server;
    atomic_int healthy;
    int port;
};

static int is_healthy(void *arg);
static size_t http(int family, int port, const char *request, char *resp, size_t size);
static const char *body_of(const char *resp);

static int is_healthy(void *arg)
{
    struct fixture *f = arg;
    return atomic_load(&f->healthy);
}

/* Sends request to the loopback address of family on port and reads the
 * whole answer (the request asks the server to close) into resp. Returns
 * its length; fails the test if the exchange fails. */
static size_t http(int family, int port, const char *request, char *resp, size_t size)
{
    int fd = socket(family, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    socklen_t sslen;
    if (family == AF_INET6) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        in6->sin6_addr = in6addr_loopback;
        sslen = sizeof(*in6);
    } else {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        in->sin_family = AF_INET;
        in->sin_port = htons((uint16_t)port);
        in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        sslen = sizeof(*in);
    }
    assert_int_equal(connect(fd, (struct sockaddr *)&ss, sslen), 0);
    size_t len = strlen(request);
    assert_int_equal(write(fd, request, len), (ssize_t)len);
    size_t got = 0;
    ssize_t n;
    while (got + 1 < size && (n = read(fd, resp + got, size - 1 - got)) > 0)
        got += (size_t)n;
    resp[got] = '\0';
    close(fd);
    assert_true(got > 0);
    return got;
}

static const char *body_of(const char *resp)
{
    const char *sep = strstr(resp, "\r\n\r\n");
    assert_non_null(sep);
    return sep + 4;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    assert_non_null(f);
    atomic_init(&f->healthy, 1);
    f->reg = mochi_metrics_new();
    assert_non_null(f->reg);
    struct mochi_metric_family *family =
        mochi_metrics_counter(f->reg, "mochi_test_total", "A test \"counter\".", 0, NULL);
    assert_non_null(family);
    mochi_metric_add(mochi_metrics_child(family, NULL), 7);
    char err[256] = "";
    int rc = mochi_metrics_server_start(f->reg, "127.0.0.1:0", is_healthy, f, &f->server, err,
                                        sizeof(err));
    if (rc != 0)
        fail_msg("start: %s", err);
    f->port = mochi_metrics_server_port(f->server);
    assert_true(f->port > 0);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;
    mochi_metrics_server_stop(f->server);
    mochi_metrics_destroy(f->reg);
    free(f);
    return 0;
}

static void test_metrics(void **state)
{
    struct fixture *f = *state;
    char resp[8192];
    http(AF_INET, f->port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp,
         sizeof(resp));
    assert_true(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
    assert_non_null(strstr(resp, "\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
    assert_string_equal(body_of(resp), "# HELP mochi_test_total A test \"counter\".\n"
                                       "# TYPE mochi_test_total counter\n"
                                       "mochi_test_total 7\n");

    /* A query string does not change the route. */
    http(AF_INET, f->port, "GET /metrics?x=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
         resp, sizeof(resp));
    assert_true(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);

    http(AF_INET, f->port, "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp,
         sizeof(resp));
    assert_true(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
    assert_string_equal(body_of(resp), "");
}

static void test_healthz(void **state)
{
    struct fixture *f = *state;
    char resp[4096];
    http(AF_INET, f->port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp,
         sizeof(resp));
    assert_true(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
    assert_string_equal(body_of(resp), "ok\n");

    atomic_store(&f->healthy, 0);
    http(AF_INET, f->port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp,
         sizeof(resp));
    assert_true(strncmp(resp, "HTTP/1.1 503 ", 13) == 0);
    assert_string_equal(body_of(resp), "unavailable\n");
    atomic_store(&f->healthy, 1);
}

static void test_healthz_without_check(void **state)
{
    struct fixture *f = *state;
    struct mochi_metrics_server *server = NULL;
    char err[256] = "";
    /* A name, not a numeric host: resolved with getaddrinfo. */
    int rc =
        mochi_metrics_server_start(f->reg, "localhost:0", NULL, NULL, &server, err, sizeof(err));
    if (rc != 0)
        fail_msg("start: %s", err);
    int port = mochi_metrics_server_port(server);
    char resp[4096];
    /* localhost may resolve to ::1 or 127.0.0.1; try IPv4 first. */
    int family = AF_INET;
    int probe = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(probe, (struct sockaddr *)&in, sizeof(in)) != 0)
        family = AF_INET6;
    close(probe);
    http(family, port, "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp,
         sizeof(resp));
    assert_true(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
    assert_string_equal(body_of(resp), "ok\n");
    mochi_metrics_server_stop(server);
}

static void test_not_found_and_method(void **state)
{
    struct fixture *f = *state;
    char resp[4096];
    http(AF_INET, f->port, "GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp,
         sizeof(resp));
    assert_true(strncmp(resp, "HTTP/1.1 404 ", 13) == 0);

    http(AF_INET, f->port,
         "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: 5\r\n\r\n"
         "hello",
         resp, sizeof(resp));
    assert_true(strncmp(resp, "HTTP/1.1 405 ", 13) == 0);
    assert_non_null(strstr(resp, "\r\nAllow: GET, HEAD\r\n"));

    http(AF_INET, f->port, "DELETE /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp,
         sizeof(resp));
    assert_true(strncmp(resp, "HTTP/1.1 405 ", 13) == 0);
}

static void test_port_in_use(void **state)
{
    struct fixture *f = *state;
    char addr[64];
    snprintf(addr, sizeof(addr), "127.0.0.1:%d", f->port);
    struct mochi_metrics_server *server = NULL;
    char err[256] = "";
    int rc = mochi_metrics_server_start(f->reg, addr, NULL, NULL, &server, err, sizeof(err));
    assert_int_equal(rc, MOCHI_ERR_IO);
    assert_null(server);
    assert_non_null(strstr(err, addr));
    assert_non_null(strstr(err, "in use"));
    mochi_metrics_server_stop(NULL);
}

static void test_bad_address(void **state)
{
    struct fixture *f = *state;
    struct mochi_metrics_server *server = NULL;
    char err[256] = "";
    assert_int_equal(
        mochi_metrics_server_start(f->reg, "no-port", NULL, NULL, &server, err, sizeof(err)),
        MOCHI_ERR_INVALID);
    assert_non_null(strstr(err, "no-port"));
    assert_null(server);
    assert_int_equal(mochi_metrics_server_start(f->reg, "127.0.0.1:99999", NULL, NULL, &server, err,
                                                sizeof(err)),
                     MOCHI_ERR_INVALID);
    assert_non_null(strstr(err, "127.0.0.1:99999"));
    assert_int_equal(
        mochi_metrics_server_start(f->reg, "::1:9101", NULL, NULL, &server, err, sizeof(err)),
        MOCHI_ERR_INVALID); /* IPv6 needs brackets */
    assert_null(server);
}

static void test_ipv6(void **state)
{
    struct fixture *f = *state;
    int probe = socket(AF_INET6, SOCK_STREAM, 0);
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int usable = probe >= 0 && bind(probe, (struct sockaddr *)&in6, sizeof(in6)) == 0;
    if (probe >= 0)
        close(probe);
    if (!usable)
        skip(); /* no IPv6 loopback in this sandbox */
    struct mochi_metrics_server *server = NULL;
    char err[256] = "";
    int rc = mochi_metrics_server_start(f->reg, "[::1]:0", NULL, NULL, &server, err, sizeof(err));
    if (rc != 0)
        fail_msg("start: %s", err);
    char resp[4096];
    http(AF_INET6, mochi_metrics_server_port(server),
         "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", resp, sizeof(resp));
    assert_true(strncmp(resp, "HTTP/1.1 200 ", 13) == 0);
    mochi_metrics_server_stop(server);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_metrics, setup, teardown),
        cmocka_unit_test_setup_teardown(test_healthz, setup, teardown),
        cmocka_unit_test_setup_teardown(test_healthz_without_check, setup, teardown),
        cmocka_unit_test_setup_teardown(test_not_found_and_method, setup, teardown),
        cmocka_unit_test_setup_teardown(test_port_in_use, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_address, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ipv6, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
