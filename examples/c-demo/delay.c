#define _POSIX_C_SOURCE 200809L
#include "delay.h"

#include <pthread.h>
#include <stdlib.h>
#include <time.h>

typedef struct pending {
    uint64_t due_ns;
    uint64_t waited_ms;
    int gate_occupancy;
    sluice_request *request;
    delay_answer_fn answer;
} pending;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static pending *heap;
static size_t count, capacity;
static int stopping;
static pthread_t thread;

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void swap(size_t a, size_t b) {
    pending t = heap[a];
    heap[a] = heap[b];
    heap[b] = t;
}

static void sift_up(size_t i) {
    while (i > 0 && heap[(i - 1) / 2].due_ns > heap[i].due_ns) {
        swap(i, (i - 1) / 2);
        i = (i - 1) / 2;
    }
}

static void sift_down(size_t i) {
    for (;;) {
        size_t l = 2 * i + 1, r = l + 1, m = i;
        if (l < count && heap[l].due_ns < heap[m].due_ns) m = l;
        if (r < count && heap[r].due_ns < heap[m].due_ns) m = r;
        if (m == i) return;
        swap(i, m);
        i = m;
    }
}

/* Waits for the earliest due entry and takes it out; returns 0 once stopping and empty. */
static int take_due(pending *out) {
    pthread_mutex_lock(&lock);
    for (;;) {
        if (count == 0) {
            if (stopping) break;
            pthread_cond_wait(&changed, &lock);
            continue;
        }
        uint64_t now = now_ns();
        /* While stopping, answer at once: the server is draining and waits for these. */
        if (heap[0].due_ns <= now || stopping) {
            *out = heap[0];
            heap[0] = heap[--count];
            sift_down(0);
            pthread_mutex_unlock(&lock);
            return 1;
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        uint64_t wait = heap[0].due_ns - now;
        until.tv_sec += (time_t)(wait / 1000000000u);
        until.tv_nsec += (long)(wait % 1000000000u);
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        pthread_cond_timedwait(&changed, &lock, &until);
    }
    pthread_mutex_unlock(&lock);
    return 0;
}

static void *run(void *arg) {
    (void)arg;
    pending next;
    while (take_due(&next)) next.answer(next.request, next.waited_ms, next.gate_occupancy);
    return NULL;
}

int delay_start(void) { return pthread_create(&thread, NULL, run, NULL) == 0 ? 0 : -1; }

void delay_stop(void) {
    pthread_mutex_lock(&lock);
    stopping = 1;
    pthread_cond_signal(&changed);
    pthread_mutex_unlock(&lock);
    pthread_join(thread, NULL);
    free(heap);
}

int delay_schedule(sluice_request *request, uint64_t ms, int gate_occupancy, delay_answer_fn answer) {
    pthread_mutex_lock(&lock);
    if (count == capacity) {
        size_t grown = capacity ? capacity * 2 : 256;
        pending *bigger = realloc(heap, grown * sizeof(pending));
        if (bigger == NULL) {
            pthread_mutex_unlock(&lock);
            return -1;
        }
        heap = bigger;
        capacity = grown;
    }
    heap[count] = (pending){now_ns() + ms * 1000000u, ms, gate_occupancy, request, answer};
    sift_up(count++);
    pthread_cond_signal(&changed);
    pthread_mutex_unlock(&lock);
    return 0;
}
