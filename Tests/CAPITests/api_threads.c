/* Threads: answers from many foreign threads at once; a saturated blocking pool does not
 * stop the fast routes. */
#define _DEFAULT_SOURCE
#include "test_support.h"

#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

#define ANSWER_THREADS 8
#define CLIENTS 16
#define REQUESTS_PER_CLIENT 25

/* A handoff queue per answering thread: handlers push requests, the thread answers them. */
typedef struct handoff {
    pthread_mutex_t lock;
    pthread_cond_t ready;
    sluice_request *items[1024];
    size_t count;
    int stop;
    pthread_t thread;
} handoff;

static handoff queues[ANSWER_THREADS];
static atomic_uint next_queue;

static void *answerer(void *arg) {
    handoff *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->lock);
        while (q->count == 0 && !q->stop) pthread_cond_wait(&q->ready, &q->lock);
        if (q->count == 0) {
            pthread_mutex_unlock(&q->lock);
            return NULL;
        }
        sluice_request *request = q->items[--q->count];
        pthread_mutex_unlock(&q->lock);
        const char *n = sluice_request_param(request, "n");
        CHECK_RC(sluice_respond(request, 200, NULL, 0, n, strlen(n)), SLUICE_OK);
    }
}

static void foreign(sluice_request *request, void *user_data) {
    (void)user_data;
    handoff *q = &queues[atomic_fetch_add(&next_queue, 1) % ANSWER_THREADS];
    pthread_mutex_lock(&q->lock);
    CHECK(q->count < 1024);
    q->items[q->count++] = request;
    pthread_cond_signal(&q->ready);
    pthread_mutex_unlock(&q->lock);
}

static void blocking(sluice_request *request, void *user_data) {
    (void)user_data;
    usleep(300 * 1000); /* plain blocking C code, on the engine's blocking pool */
    sluice_respond(request, 200, NULL, 0, "slow", 4);
}

static void fast(sluice_request *request, void *user_data) {
    (void)user_data;
    sluice_respond(request, 200, NULL, 0, "fast", 4);
}

static void routes(sluice_server *server) {
    sluice_route_options pool = SLUICE_ROUTE_OPTIONS_INIT;
    pool.blocking = 1;
    CHECK_RC(sluice_server_add_route(server, "GET", "/foreign/:n", foreign, NULL, NULL), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/blocking", blocking, NULL, &pool), SLUICE_OK);
    CHECK_RC(sluice_server_add_route(server, "GET", "/fast", fast, NULL, NULL), SLUICE_OK);
}

static int port;

static void *client(void *arg) {
    long id = (long)arg;
    for (int i = 0; i < REQUESTS_PER_CLIENT; i++) {
        char target[64], body[64], expected[32];
        snprintf(expected, sizeof(expected), "%ld-%d", id, i);
        snprintf(target, sizeof(target), "/foreign/%s", expected);
        CHECK(http_request(port, "GET", target, NULL, body, sizeof(body)) == 200);
        CHECK(strcmp(body, expected) == 0);
    }
    return NULL;
}

static void *slow_client(void *arg) {
    (void)arg;
    CHECK(http_request(port, "GET", "/blocking", NULL, NULL, 0) == 200);
    return NULL;
}

int main(void) {
    for (int i = 0; i < ANSWER_THREADS; i++) {
        pthread_mutex_init(&queues[i].lock, NULL);
        pthread_cond_init(&queues[i].ready, NULL);
        pthread_create(&queues[i].thread, NULL, answerer, &queues[i]);
    }
    sluice_server_options options = SLUICE_SERVER_OPTIONS_INIT;
    options.port = 0;
    options.blocking_pool_size = 2;
    sluice_server *server = start_server(&port, &options, routes);

    pthread_t clients[CLIENTS];
    for (long i = 0; i < CLIENTS; i++) pthread_create(&clients[i], NULL, client, (void *)i);
    for (int i = 0; i < CLIENTS; i++) pthread_join(clients[i], NULL);

    /* Saturate the blocking pool (2 threads) with 6 slow requests: 3 rounds of 300 ms. */
    pthread_t slow[6];
    for (int i = 0; i < 6; i++) pthread_create(&slow[i], NULL, slow_client, NULL);
    usleep(50 * 1000);
    struct timespec start, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    for (int i = 0; i < 50; i++) CHECK(http_request(port, "GET", "/fast", NULL, NULL, 0) == 200);
    clock_gettime(CLOCK_MONOTONIC, &end);
    double fast_seconds = (double)(end.tv_sec - start.tv_sec) + (double)(end.tv_nsec - start.tv_nsec) / 1e9;
    /* The fast route does not wait for the pool: 50 answers long before the pool's 0.9 s. */
    CHECK(fast_seconds < 0.6);
    for (int i = 0; i < 6; i++) pthread_join(slow[i], NULL);

    CHECK_RC(sluice_server_stop(server), SLUICE_OK);
    CHECK_RC(sluice_server_run(server), SLUICE_OK);
    sluice_server_destroy(server);
    for (int i = 0; i < ANSWER_THREADS; i++) {
        pthread_mutex_lock(&queues[i].lock);
        queues[i].stop = 1;
        pthread_cond_signal(&queues[i].ready);
        pthread_mutex_unlock(&queues[i].lock);
        pthread_join(queues[i].thread, NULL);
    }
    puts("api_threads: ok");
    return 0;
}
