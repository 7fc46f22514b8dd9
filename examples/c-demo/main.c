/*
 * sluice-c-demo: the demo contract served by C handlers through the public header only.
 * Same flags, endpoints and behaviour as the Swift demo (examples/swift-demo). Its first
 * stdout line is exactly "listening on http://HOST:PORT"; SIGINT or SIGTERM drain it and
 * it exits 0.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "delay.h"
#include "dependency.h"
#include "routes.h"
#include "sluice.h"

static const char usage[] =
    "usage: sluice-c-demo [--host ADDR] [--port N] [--io-threads N] [--max-concurrency N]\n"
    "                     [--max-queue N] [--queue-timeout-ms N] [--handler-timeout-ms N]\n"
    "                     [--gate-limit N] [--max-body-bytes N] [--drain-timeout-ms N]\n"
    "                     [--adaptive-target-ms N] [--min-limit N] [--overload-status 503|429]\n"
    "                     [--work-capacity N] [--work-weight N] [--fast-share PERCENT] [--access-log]\n"
    "                     [--upload-limit-bytes N]\n"
    "                     [--log-level trace|debug|info|notice|warning|error|critical]\n";

/* Parses a whole number in [min, max] or exits 2 with a readable message. */
static long long number(const char *flag, const char *value, long long min, long long max) {
    char *end = NULL;
    errno = 0;
    long long n = strtoll(value, &end, 10);
    if (*value == '\0' || *end != '\0' || errno != 0 || n < min || n > max) {
        fprintf(stderr, "sluice-c-demo: %s takes a whole number in %lld...%lld, not '%s'\n", flag, min, max, value);
        exit(2);
    }
    return n;
}

/* Whether flag takes a value: the usage shows each such flag as "[--flag VALUE]". A last
 * flag without its value is told apart from a misspelled one. */
static int takes_value(const char *flag) {
    char shown[64];
    int n = snprintf(shown, sizeof(shown), "[%s ", flag);
    return n > 0 && (size_t)n < sizeof(shown) && strstr(usage, shown) != NULL;
}

/* A --log-level name as its SLUICE_LOG_* constant, or exits 2. */
static int log_level(const char *value) {
    /* In SLUICE_LOG_* order: a level's index is its constant. */
    static const char *const levels[] = {"trace", "debug", "info", "notice", "warning", "error", "critical"};
    for (int l = 0; l < (int)(sizeof(levels) / sizeof(levels[0])); l++) {
        if (strcmp(value, levels[l]) == 0) return SLUICE_LOG_TRACE + l;
    }
    fprintf(stderr, "sluice-c-demo: --log-level takes trace, debug, info, notice, warning, error or critical\n");
    exit(2);
}

/* Sets what a flag with a value says; 0 if no such flag. */
static int apply(const char *flag, const char *v, sluice_server_options *o, routes_settings *r) {
    if (strcmp(flag, "--host") == 0) o->host = v;
    else if (strcmp(flag, "--port") == 0) o->port = (int)number(flag, v, 0, 65535);
    else if (strcmp(flag, "--io-threads") == 0) o->io_threads = (int)number(flag, v, 1, 64);
    else if (strcmp(flag, "--max-concurrency") == 0) o->max_concurrency = (int)number(flag, v, 1, 1000000);
    else if (strcmp(flag, "--max-queue") == 0) o->max_queue = (int)number(flag, v, 0, 10000000);
    else if (strcmp(flag, "--queue-timeout-ms") == 0) o->queue_timeout_ms = (uint64_t)number(flag, v, 1, 86400000);
    else if (strcmp(flag, "--handler-timeout-ms") == 0) o->handler_timeout_ms = (uint64_t)number(flag, v, 1, 86400000);
    else if (strcmp(flag, "--gate-limit") == 0) r->gate_limit = (int)number(flag, v, 1, 1000000);
    else if (strcmp(flag, "--max-body-bytes") == 0) o->max_body_bytes = (uint64_t)number(flag, v, 0, 1LL << 40);
    else if (strcmp(flag, "--drain-timeout-ms") == 0) o->drain_timeout_ms = (uint64_t)number(flag, v, 0, 86400000);
    else if (strcmp(flag, "--adaptive-target-ms") == 0) {
        o->adaptive = 1;
        o->adaptive_target_ms = (uint64_t)number(flag, v, 1, 3600000);
    } else if (strcmp(flag, "--min-limit") == 0) o->adaptive_min_limit = (int)number(flag, v, 1, 1000000);
    else if (strcmp(flag, "--overload-status") == 0) {
        if (strcmp(v, "503") != 0 && strcmp(v, "429") != 0) {
            fprintf(stderr, "sluice-c-demo: --overload-status takes 503 or 429\n");
            exit(2);
        }
        o->overload_status = atoi(v);
    } else if (strcmp(flag, "--work-capacity") == 0) r->work_capacity = (int)number(flag, v, 0, 1000000);
    else if (strcmp(flag, "--work-weight") == 0) r->work_weight = (int)number(flag, v, 1, 1000000);
    else if (strcmp(flag, "--fast-share") == 0) r->fast_share_percent = (int)number(flag, v, 0, 100);
    else if (strcmp(flag, "--upload-limit-bytes") == 0) r->upload_limit_bytes = (uint64_t)number(flag, v, 0, 1LL << 40);
    else if (strcmp(flag, "--log-level") == 0) o->log_level = log_level(v);
    else return 0;
    return 1;
}

static void parse(int argc, char **argv, sluice_server_options *o, routes_settings *r) {
    for (int i = 1; i < argc; i++) {
        const char *flag = argv[i];
        if (strcmp(flag, "--help") == 0 || strcmp(flag, "-h") == 0) {
            fputs(usage, stdout);
            exit(0);
        }
        if (strcmp(flag, "--access-log") == 0) {
            r->access_log = 1;
            continue;
        }
        if (i + 1 >= argc && takes_value(flag)) {
            fprintf(stderr, "sluice-c-demo: %s needs a value\n", flag);
            exit(2);
        }
        if (i + 1 >= argc || !apply(flag, argv[i + 1], o, r)) {
            fprintf(stderr, "sluice-c-demo: unknown option %s\n%s", flag, usage);
            exit(2);
        }
        i++;
    }
    r->adaptive = o->adaptive;
    if (o->adaptive && o->adaptive_min_limit > o->max_concurrency) {
        fprintf(stderr, "sluice-c-demo: --min-limit cannot exceed --max-concurrency\n");
        exit(2);
    }
}

/*
 * Started with stdin, stdout or stderr closed, the server's first descriptors would take
 * their numbers, and a log line meant for stderr could land in a client's socket: hold them
 * open. open() returns the lowest free descriptor, the closed one.
 */
static void hold_standard_descriptors(void) {
    for (int descriptor = 0; descriptor <= 2; descriptor++) {
        if (fcntl(descriptor, F_GETFD) == -1 && errno == EBADF) (void)open("/dev/null", O_RDWR);
    }
}

/* Many concurrent clients need many descriptors: raises the soft limit to the hard one. */
static void raise_descriptor_limit(void) {
    struct rlimit descriptors;
    if (getrlimit(RLIMIT_NOFILE, &descriptors) == 0 && descriptors.rlim_cur < descriptors.rlim_max) {
        descriptors.rlim_cur = descriptors.rlim_max;
        setrlimit(RLIMIT_NOFILE, &descriptors);
    }
}

static sigset_t stop_signals(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    return set;
}

/* Blocks SIGINT and SIGTERM in the calling thread and in the threads it starts after. */
static void block_stop_signals(void) {
    sigset_t set = stop_signals();
    pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* Waits for SIGINT or SIGTERM (blocked in every thread) and stops the server gracefully. */
static void *signal_thread(void *server) {
    sigset_t set = stop_signals();
    int number = 0;
    sigwait(&set, &number);
    sluice_server_stop(server);
    return NULL;
}

static int fail(const char *what, int rc) {
    fprintf(stderr, "sluice-c-demo: %s: %s\n", what, sluice_strerror(rc));
    return 1;
}

int main(int argc, char **argv) {
    hold_standard_descriptors();
    sluice_server_options options = SLUICE_SERVER_OPTIONS_INIT;
    static routes_settings settings = {.gate_limit = 4, .work_weight = 1, .upload_limit_bytes = 1ULL << 30};
    /* Each open stream (/upload, /stream, /events) holds a thread of the blocking pool while
     * it runs; the pool starts threads only as streams need them, so a high bound costs nothing. */
    options.blocking_pool_size = 1024;
    options.log_level = SLUICE_LOG_WARNING; /* the demos' --log-level default */
    parse(argc, argv, &options, &settings);

    raise_descriptor_limit();
    /* Before any thread exists, so only signal_thread receives them. */
    block_stop_signals();

    sluice_server *server = NULL;
    int rc = sluice_server_create(&server, &options);
    if (rc != 0) return fail("invalid options", rc);
    if ((rc = routes_add(server, &settings)) != 0) return fail("cannot add routes", rc);
    if (delay_start() != 0) return fail("cannot start the delay thread", SLUICE_ENOMEM);
    int port = 0;
    if ((rc = sluice_server_start(server, &port)) != 0) return fail("cannot start", rc);
    const char *host = options.host;
    printf(strchr(host, ':') ? "listening on http://[%s]:%d\n" : "listening on http://%s:%d\n", host, port);
    fflush(stdout);

    pthread_t signals;
    pthread_create(&signals, NULL, signal_thread, server);
    rc = sluice_server_run(server);
    delay_stop(); /* answers what is left; those requests were cancelled, so it only releases them */
    dependency_stop();
    sluice_server_destroy(server);
    pthread_detach(signals);
    return rc == 0 ? 0 : fail("run", rc);
}
