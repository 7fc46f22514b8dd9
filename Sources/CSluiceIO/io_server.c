/*
 * Server lifecycle: options, listeners, loop threads, stop and shutdown. It is C
 * because sockets and threads belong to libuv. With several io threads each loop
 * has its own SO_REUSEPORT listener, so the kernel spreads connections and no
 * loop hands sockets to another.
 */
#include "io_internal.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static void on_connection(uv_stream_t *listener, int status) {
    if (status != 0) return; /* libuv already keeps accepting after EMFILE and the like */
    sluice__conn_accept(listener->data, listener);
}

static void loop_thread_main(void *arg) {
    sluice_io_loop *loop = arg;
    sluice__current_loop = loop;
    uv_run(&loop->uv, UV_RUN_DEFAULT);
    sluice__current_loop = NULL;
}

/* A name for top -H, perf and gdb; a new thread would otherwise carry the name of the one
 * that started the server (in Swift, a pool thread's "com.apple.root.default-qos"). Named
 * here rather than by the thread itself, so that the name is there once the server runs.
 * At most 15 bytes: "sluice-io-63". A failure leaves the inherited name; nothing else. */
static void name_loop_thread(sluice_io_loop *loop) {
    char name[16];
    snprintf(name, sizeof name, "sluice-io-%d", loop->index);
    pthread_setname_np(loop->thread, name);
}

static int resolve(const char *host, int port, struct sockaddr_storage *addr) {
    if (uv_ip4_addr(host, port, (struct sockaddr_in *)addr) == 0) return 0;
    if (uv_ip6_addr(host, port, (struct sockaddr_in6 *)addr) == 0) return 0;
    return UV_EINVAL;
}

/* Binds one loop's listener; SO_REUSEPORT must be set between socket() and bind(). */
static int listen_on(sluice_io_loop *loop, const struct sockaddr_storage *addr) {
    int rc = uv_tcp_init_ex(&loop->uv, &loop->listener, addr->ss_family);
    if (rc != 0) return rc;
    loop->listener.data = loop;
    loop->listening = 1;
    if (loop->server->loop_count > 1) {
        uv_os_fd_t fd;
        int one = 1;
        if ((rc = uv_fileno((uv_handle_t *)&loop->listener, &fd)) != 0) return rc;
        if (setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) return -errno;
    }
    if ((rc = uv_tcp_bind(&loop->listener, (const struct sockaddr *)addr, 0)) != 0) return rc;
    return uv_listen((uv_stream_t *)&loop->listener, 1024, on_connection);
}

/*
 * SO_REUSEPORT listeners of one user share a port, so a group would join another process's
 * group on the same port (a second server started by mistake, or a stale one) and split its
 * traffic instead of failing. A plain bind first, which any listener on the port refuses:
 * EADDRINUSE, as a single listener would get. SO_REUSEADDR as libuv sets it, so connections
 * in TIME_WAIT do not count.
 */
static int check_port_free(const struct sockaddr_storage *addr) {
    int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int one = 1;
    socklen_t len = addr->ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
    int rc = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (const struct sockaddr *)addr, len) != 0) {
        rc = -errno;
    }
    close(fd);
    return rc;
}

static int bound_port(uv_tcp_t *listener) {
    struct sockaddr_storage name;
    int len = sizeof(name);
    if (uv_tcp_getsockname(listener, (struct sockaddr *)&name, &len) != 0) return -1;
    if (name.ss_family == AF_INET6) return ntohs(((struct sockaddr_in6 *)&name)->sin6_port);
    return ntohs(((struct sockaddr_in *)&name)->sin_port);
}

int sluice_io_server_create(sluice_io_server **out, const sluice_io_options *options,
                            const sluice_io_callbacks *callbacks) {
    if (!out || !options || !callbacks || !options->host || options->io_threads < 1) return UV_EINVAL;
    if (!callbacks->on_request || !callbacks->on_request_aborted || !callbacks->run_job ||
        !callbacks->release_request_context || !callbacks->on_loop_drained || !callbacks->on_request_timer) {
        return UV_EINVAL;
    }
    sluice_io_server *server = calloc(1, sizeof(*server));
    if (!server) return UV_ENOMEM;
    server->options = *options;
    server->callbacks = *callbacks;
    server->host = strdup(options->host);
    server->loop_count = options->io_threads;
    server->loops = calloc((size_t)options->io_threads, sizeof(sluice_io_loop));
    server->limits.max_request_line = options->max_request_line;
    server->limits.max_header_bytes = options->max_header_bytes;
    server->limits.max_fields = options->max_header_fields;
    /* With plan_body, each request's limit is checked by its connection instead. */
    server->limits.max_body_bytes = callbacks->plan_body ? UINT64_MAX : options->max_body_bytes;
    if (!server->host || !server->loops) {
        sluice_io_server_destroy(server);
        return UV_ENOMEM;
    }
    for (int i = 0; i < server->loop_count; i++) {
        int rc = sluice__loop_init(&server->loops[i], server, i);
        if (rc != 0) {
            server->loop_count = i + 1; /* destroy frees what was made */
            sluice_io_server_destroy(server);
            return rc;
        }
    }
    *out = server;
    return 0;
}

int sluice_io_server_start(sluice_io_server *server) {
    if (server->started) return UV_EALREADY;
    /* libuv leaves SIGPIPE alone; a peer that vanishes before its answer must not kill us. */
    signal(SIGPIPE, SIG_IGN);
    struct sockaddr_storage addr;
    memset(&addr, 0, sizeof(addr));
    int rc = resolve(server->host, server->options.port, &addr);
    if (rc != 0) return rc;
    if (server->loop_count > 1 && server->options.port != 0 && (rc = check_port_free(&addr)) != 0) return rc;
    for (int i = 0; i < server->loop_count; i++) {
        if ((rc = listen_on(&server->loops[i], &addr)) != 0) return rc;
        if (i == 0) {
            /* Port 0: the others join the port the first one got. */
            server->port = bound_port(&server->loops[0].listener);
            if (addr.ss_family == AF_INET6) ((struct sockaddr_in6 *)&addr)->sin6_port = htons((uint16_t)server->port);
            else ((struct sockaddr_in *)&addr)->sin_port = htons((uint16_t)server->port);
        }
    }
    for (int i = 0; i < server->loop_count; i++) {
        if ((rc = uv_thread_create(&server->loops[i].thread, loop_thread_main, &server->loops[i])) != 0) {
            /* Shutdown joins only the threads that exist; the loops that never ran leak. */
            server->loop_count = i;
            server->started = i > 0;
            return rc;
        }
        name_loop_thread(&server->loops[i]);
    }
    server->started = 1;
    return 0;
}

int sluice_io_server_port(const sluice_io_server *server) { return server->port; }
int sluice_io_server_loop_count(const sluice_io_server *server) { return server->loop_count; }

sluice_io_loop *sluice_io_server_loop(sluice_io_server *server, int index) {
    if (index < 0 || index >= server->loop_count) return NULL;
    return &server->loops[index];
}

void sluice_io_server_stop_accepting(sluice_io_server *server) {
    for (int i = 0; i < server->loop_count; i++) {
        atomic_store(&server->loops[i].stop_accepting_requested, 1);
        sluice__loop_wake(&server->loops[i]);
    }
}

void sluice_io_server_shutdown(sluice_io_server *server) {
    if (!server->started || server->shut_down) return;
    server->shut_down = 1;
    for (int i = 0; i < server->loop_count; i++) {
        atomic_store(&server->loops[i].shutdown_requested, 1);
        sluice__loop_wake(&server->loops[i]);
    }
    for (int i = 0; i < server->loop_count; i++) uv_thread_join(&server->loops[i].thread);
}

void sluice_io_server_destroy(sluice_io_server *server) {
    if (!server) return;
    sluice_io_server_shutdown(server);
    for (int i = 0; server->loops && i < server->loop_count; i++) {
        sluice_io_loop *loop = &server->loops[i];
        if (loop->ready) {
            /* A loop that never ran still has its init handles; close them and let it finish. */
            if (!server->started) uv_walk(&loop->uv, sluice__close_handle, NULL);
            uv_run(&loop->uv, UV_RUN_DEFAULT);
            /* Streaming calls made after the loop stopped: their requests are freed here. */
            sluice__stream_run_messages(loop);
            uv_loop_close(&loop->uv);
            uv_mutex_destroy(&loop->remote_lock);
        }
        sluice__ring_free(&loop->jobs);
        sluice__ring_free(&loop->remote_jobs);
        sluice__conn_free_spares(loop);
        free(loop->scratch_fields);
        free(loop->parse_fields);
        free(loop->read_buffer);
    }
    free(server->loops);
    free(server->host);
    free(server);
}

const char *sluice_io_strerror(int error) { return uv_strerror(error); }

void sluice_io_server_counters(const sluice_io_server *server, sluice_io_counters *out) {
    out->connections_accepted = atomic_load(&server->connections_accepted);
    out->connections_rejected = atomic_load(&server->connections_rejected);
    out->connections_open = atomic_load(&server->connections_open);
    out->requests_parsed = atomic_load(&server->requests_parsed);
    out->requests_refused = atomic_load(&server->requests_refused);
    out->timeouts = atomic_load(&server->timeouts);
}
