#define _POSIX_C_SOURCE 200809L
#include "dependency.h"

#include <pthread.h>
#include <stdlib.h>

typedef struct waiting_call {
    sluice_request *request;
    uint64_t ms;
    struct waiting_call *next;
} waiting_call;

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static int capacity, in_use;
static waiting_call *head, *tail;
static delay_answer_fn answer_call;

void dependency_init(int slots, delay_answer_fn answer) {
    capacity = slots;
    answer_call = answer;
}

/* Takes the next waiting call whose client is still there; a cancelled one is released at
 * once (answering a cancelled request only frees it). Called with the lock held. */
static waiting_call *next_waiting(void) {
    while (head != NULL) {
        waiting_call *call = head;
        head = call->next;
        if (head == NULL) tail = NULL;
        if (!sluice_request_is_cancelled(call->request)) return call;
        sluice_respond(call->request, 503, NULL, 0, NULL, 0);
        free(call);
    }
    return NULL;
}

/* A call finished (on the delay thread): answer it, then give its slot to the next waiter. */
static void finished(sluice_request *request, uint64_t waited_ms, int gate_occupancy) {
    answer_call(request, waited_ms, gate_occupancy);
    pthread_mutex_lock(&lock);
    waiting_call *next = next_waiting();
    if (next == NULL) in_use--;
    pthread_mutex_unlock(&lock);
    if (next != NULL) {
        if (delay_schedule(next->request, next->ms, 0, finished) != 0) {
            sluice_respond_error(next->request, 500, "out of memory");
            pthread_mutex_lock(&lock);
            in_use--;
            pthread_mutex_unlock(&lock);
        }
        free(next);
    }
}

int dependency_call(sluice_request *request, uint64_t ms) {
    if (capacity == 0) return delay_schedule(request, ms, 0, answer_call);
    pthread_mutex_lock(&lock);
    if (in_use < capacity) {
        in_use++;
        pthread_mutex_unlock(&lock);
        if (delay_schedule(request, ms, 0, finished) == 0) return 0;
        pthread_mutex_lock(&lock);
        in_use--;
        pthread_mutex_unlock(&lock);
        return -1;
    }
    waiting_call *call = malloc(sizeof(*call));
    if (call == NULL) {
        pthread_mutex_unlock(&lock);
        return -1;
    }
    *call = (waiting_call){request, ms, NULL};
    if (tail != NULL) tail->next = call; else head = call;
    tail = call;
    pthread_mutex_unlock(&lock);
    return 0;
}

void dependency_stop(void) {
    pthread_mutex_lock(&lock);
    while (head != NULL) {
        waiting_call *call = head;
        head = call->next;
        free(call);
    }
    tail = NULL;
    pthread_mutex_unlock(&lock);
}
