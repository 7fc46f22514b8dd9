/*
 * One event loop: its thread-affine job queue (the backing store of the Swift
 * TaskExecutor bound to this loop), the cross-thread wake-up, and stop requests.
 * It is C because libuv handles may only be touched on their loop's thread, and
 * the wake-up must coalesce (uv_async_send) so a burst of answers costs one
 * system call.
 */
#include "io_internal.h"

#include <stdlib.h>
#include <string.h>

_Thread_local sluice_io_loop *sluice__current_loop = NULL;

int sluice__ring_push(sluice_io_ring *ring, void *item) {
    if (ring->count == ring->capacity) {
        size_t capacity = ring->capacity ? ring->capacity * 2 : 64;
        void **items = malloc(capacity * sizeof(void *));
        if (items == NULL) return UV_ENOMEM;
        for (size_t i = 0; i < ring->count; i++) items[i] = ring->items[(ring->head + i) % ring->capacity];
        free(ring->items);
        ring->items = items;
        ring->head = 0;
        ring->capacity = capacity;
    }
    ring->items[(ring->head + ring->count) % ring->capacity] = item;
    ring->count++;
    return 0;
}

void *sluice__ring_pop(sluice_io_ring *ring) {
    if (ring->count == 0) return NULL;
    void *item = ring->items[ring->head];
    ring->head = (ring->head + 1) % ring->capacity;
    ring->count--;
    return item;
}

void sluice__ring_free(sluice_io_ring *ring) {
    free(ring->items);
    memset(ring, 0, sizeof(*ring));
}

/*
 * Runs local jobs and streaming messages until none is left; each may queue more of the
 * other (a job writes a chunk, a written chunk resumes a task), which run in this pass too.
 * Then the answers gathered for pipelined requests go out (a failed write may queue jobs).
 */
static void run_local_jobs(sluice_io_loop *loop) {
    loop->running_jobs = 1;
    loop->dispatched_unrun = 0;
    do {
        void *job;
        while ((job = sluice__ring_pop(&loop->jobs)) != NULL) {
            loop->server->callbacks.run_job(loop->executor_context, job);
        }
        sluice__stream_run_messages(loop);
        if (loop->jobs.count == 0) sluice__conn_flush_corked(loop);
    } while (loop->jobs.count > 0);
    uv_idle_stop(&loop->idle);
    loop->running_jobs = 0;
}

void sluice__loop_run_jobs_if_many(sluice_io_loop *loop) {
    if (loop->running_jobs || loop->dispatched_unrun < SLUICE_IO_RUN_JOBS_EVERY) return;
    run_local_jobs(loop);
}

static void on_idle(uv_idle_t *idle) { run_local_jobs(idle->data); }
static void on_check(uv_check_t *check) { run_local_jobs(check->data); }

static void start_draining(sluice_io_loop *loop) {
    if (loop->draining) return;
    loop->draining = 1;
    if (loop->listening) {
        uv_close((uv_handle_t *)&loop->listener, NULL);
        loop->listening = 0;
    }
    sluice_io_conn *conn = loop->conns;
    while (conn) {
        sluice_io_conn *next = conn->next;
        sluice__conn_close_idle(conn);
        conn = next;
    }
    sluice__loop_check_drained(loop);
}

void sluice__loop_check_drained(sluice_io_loop *loop) {
    if (!loop->draining || loop->drained_notified || loop->conns != NULL) return;
    loop->drained_notified = 1;
    loop->server->callbacks.on_loop_drained(loop->server->callbacks.context, loop->index);
}

void sluice__close_handle(uv_handle_t *handle, void *arg) {
    (void)arg;
    if (!uv_is_closing(handle)) uv_close(handle, NULL);
}

static void start_shutdown(sluice_io_loop *loop) {
    if (loop->shutting_down) return;
    start_draining(loop);
    loop->shutting_down = 1;
    while (loop->conns) sluice__conn_abort(loop->conns);
    sluice__stream_run_messages(loop);
    /* Abort callbacks may have queued jobs; run them before the handles go. */
    run_local_jobs(loop);
    uv_walk(&loop->uv, sluice__close_handle, NULL);
}

static void on_wakeup(uv_async_t *async) {
    sluice_io_loop *loop = async->data;
    uv_mutex_lock(&loop->remote_lock);
    sluice_io_request *responses = loop->remote_responses_head;
    loop->remote_responses_head = loop->remote_responses_tail = NULL;
    void *job;
    while ((job = sluice__ring_pop(&loop->remote_jobs)) != NULL) {
        if (sluice__ring_push(&loop->jobs, job) != 0) abort(); /* out of memory: no safe way on */
    }
    uv_mutex_unlock(&loop->remote_lock);
    /* Streaming calls made before these answers were queued before them: run them first. */
    sluice__stream_run_messages(loop);
    while (responses) {
        sluice_io_request *next = responses->next;
        sluice__conn_deliver(responses);
        responses = next;
    }
    if (atomic_load(&loop->stop_accepting_requested)) start_draining(loop);
    if (atomic_load(&loop->shutdown_requested)) start_shutdown(loop);
    else if (loop->jobs.count > 0) uv_idle_start(&loop->idle, on_idle);
}

int sluice__loop_init(sluice_io_loop *loop, sluice_io_server *server, int index) {
    memset(loop, 0, sizeof(*loop));
    loop->server = server;
    loop->index = index;
    size_t n = server->options.max_header_fields;
    loop->scratch_fields = calloc(n ? n : 1, sizeof(sluice_io_field));
    loop->parse_fields = calloc(n ? n : 1, sizeof(sluice_http_field));
    loop->read_buffer = malloc(SLUICE_IO_LOOP_READ_BYTES);
    if (!loop->scratch_fields || !loop->parse_fields || !loop->read_buffer) return UV_ENOMEM;
    int rc = uv_loop_init(&loop->uv);
    if (rc != 0) return rc;
    if ((rc = uv_mutex_init(&loop->remote_lock)) != 0) {
        uv_loop_close(&loop->uv);
        return rc;
    }
    /* Every handle is initialised here, before any thread or task can reach the loop. */
    if ((rc = uv_async_init(&loop->uv, &loop->wakeup, on_wakeup)) != 0) {
        uv_mutex_destroy(&loop->remote_lock);
        uv_loop_close(&loop->uv);
        return rc;
    }
    uv_idle_init(&loop->uv, &loop->idle);
    uv_check_init(&loop->uv, &loop->check);
    loop->wakeup.data = loop->idle.data = loop->check.data = loop;
    uv_check_start(&loop->check, on_check);
    /* The check handle alone must not keep the loop alive. */
    uv_unref((uv_handle_t *)&loop->check);
    loop->ready = 1;
    return 0;
}

void sluice__loop_wake(sluice_io_loop *loop) { uv_async_send(&loop->wakeup); }

void sluice__loop_kick(sluice_io_loop *loop) {
    if (sluice__current_loop == loop) {
        uv_idle_start(&loop->idle, on_idle);
    } else {
        uv_async_send(&loop->wakeup);
    }
}

void sluice_io_loop_set_executor_context(sluice_io_loop *loop, void *executor_context) {
    loop->executor_context = executor_context;
}

int sluice_io_loop_is_current(const sluice_io_loop *loop) { return sluice__current_loop == loop; }

int sluice_io_on_loop_thread(void) { return sluice__current_loop != NULL; }

void sluice_io_loop_enqueue_job(sluice_io_loop *loop, void *job) {
    if (sluice__current_loop == loop) {
        if (sluice__ring_push(&loop->jobs, job) != 0) abort(); /* a lost job would hang its task */
        if (loop->jobs.count == 1) uv_idle_start(&loop->idle, on_idle);
        return;
    }
    uv_mutex_lock(&loop->remote_lock);
    int rc = sluice__ring_push(&loop->remote_jobs, job);
    uv_mutex_unlock(&loop->remote_lock);
    if (rc != 0) abort();
    uv_async_send(&loop->wakeup);
}

void sluice__loop_post_response(sluice_io_loop *loop, sluice_io_request *request) {
    request->next = NULL;
    uv_mutex_lock(&loop->remote_lock);
    if (loop->remote_responses_tail) {
        loop->remote_responses_tail->next = request;
    } else {
        loop->remote_responses_head = request;
    }
    loop->remote_responses_tail = request;
    uv_mutex_unlock(&loop->remote_lock);
    uv_async_send(&loop->wakeup);
}
