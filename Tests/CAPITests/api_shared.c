/* Shared state from C: counters and the keyed store are exact under concurrency. */
#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <pthread.h>
#include <string.h>

static sluice_server *server;

static void increment_text(const void *current, size_t len, int exists, sluice_value *next, void *user_data) {
    (void)user_data;
    char text[32] = "0";
    if (exists) {
        CHECK(len < sizeof(text));
        memcpy(text, current, len);
        text[len] = '\0';
    }
    char updated[32];
    int n = snprintf(updated, sizeof(updated), "%ld", strtol(text, NULL, 10) + 1);
    sluice_value_set(next, updated, (size_t)n);
}

static void *worker(void *arg) {
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        CHECK_RC(sluice_counter_add(NULL, server, "hits", 1), SLUICE_OK);
        CHECK_RC(sluice_store_update(server, "text", increment_text, NULL), SLUICE_OK);
    }
    return NULL;
}

static void remove_it(const void *current, size_t len, int exists, sluice_value *next, void *user_data) {
    (void)current;
    (void)len;
    (void)user_data;
    CHECK(exists);
    sluice_value_remove(next);
}

int main(void) {
    CHECK_RC(sluice_server_create(&server, NULL), SLUICE_OK);
    pthread_t threads[8];
    for (int i = 0; i < 8; i++) pthread_create(&threads[i], NULL, worker, NULL);
    for (int i = 0; i < 8; i++) pthread_join(threads[i], NULL);

    int64_t hits = 0;
    CHECK_RC(sluice_counter_get(&hits, server, "hits"), SLUICE_OK);
    CHECK(hits == 16000);
    char text[32];
    size_t len = 0;
    CHECK_RC(sluice_store_get(&len, server, "text", text, 2), SLUICE_ERANGE);
    CHECK(len == 5);
    CHECK_RC(sluice_store_get(&len, server, "text", text, sizeof(text)), SLUICE_OK);
    CHECK(len == 5 && memcmp(text, "16000", 5) == 0);

    CHECK_RC(sluice_store_set(server, "k", "v", 1), SLUICE_OK);
    CHECK_RC(sluice_store_update(server, "k", remove_it, NULL), SLUICE_OK);
    CHECK_RC(sluice_store_get(&len, server, "k", text, sizeof(text)), SLUICE_ENOTFOUND);
    CHECK_RC(sluice_store_delete(server, "k"), SLUICE_ENOTFOUND);
    CHECK_RC(sluice_store_set(server, "k", "v", 1), SLUICE_OK);
    CHECK_RC(sluice_store_delete(server, "k"), SLUICE_OK);

    sluice_server_destroy(server);
    puts("api_shared: ok");
    return 0;
}
