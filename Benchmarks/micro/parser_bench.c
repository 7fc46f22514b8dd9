/*
 * make bench's parser micro-benchmark: the request-head parser alone (framing included) on a
 * small set of realistic requests, in requests/s and bytes/s. Exits 1 below a floor given
 * with --min-requests-per-second, so that make bench catches a parser that got slower.
 *
 * Each round parses the whole set over and over for about a second; the best of five rounds
 * is reported (the others measure the machine's other work).
 */
#include "sluice_http_parser.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const requests[] = {
    /* A browser's navigation. */
    "GET /docs/getting-started?lang=en HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "Connection: keep-alive\r\n"
    "Upgrade-Insecure-Requests: 1\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36\r\n"
    "Accept: text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8\r\n"
    "Sec-Fetch-Site: same-origin\r\n"
    "Sec-Fetch-Mode: navigate\r\n"
    "Sec-Fetch-Dest: document\r\n"
    "Referer: https://www.example.com/\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Accept-Language: en-GB,en;q=0.9,de;q=0.8\r\n"
    "Cookie: session=4f1c2a9e8b7d6c5b4a39281706f5e4d3; theme=dark; consent=analytics%3Dno\r\n"
    "\r\n",
    /* A browser's asset fetch. */
    "GET /static/app.3f9a1c.js HTTP/1.1\r\n"
    "Host: www.example.com\r\n"
    "Connection: keep-alive\r\n"
    "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0\r\n"
    "Accept: */*\r\n"
    "Accept-Language: en-US,en;q=0.5\r\n"
    "Accept-Encoding: gzip, deflate, br, zstd\r\n"
    "Referer: https://www.example.com/docs/getting-started?lang=en\r\n"
    "Sec-Fetch-Dest: script\r\n"
    "Sec-Fetch-Mode: no-cors\r\n"
    "If-None-Match: \"3f9a1c-18a2\"\r\n"
    "\r\n",
    /* An API call with a JSON body (the head only is parsed). */
    "POST /api/v2/orders HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "Authorization: Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U\r\n"
    "Content-Type: application/json\r\n"
    "Content-Length: 182\r\n"
    "Accept: application/json\r\n"
    "X-Request-ID: 6f0c1d2e-3a4b-5c6d-7e8f-9a0b1c2d3e4f\r\n"
    "User-Agent: orders-client/4.2.1\r\n"
    "\r\n",
    /* A chunked upload. */
    "PUT /api/v2/files/report.csv HTTP/1.1\r\n"
    "Host: api.example.com\r\n"
    "Transfer-Encoding: chunked\r\n"
    "Content-Type: text/csv\r\n"
    "Expect: 100-continue\r\n"
    "\r\n",
    /* curl, and a load generator. */
    "GET /health HTTP/1.1\r\nHost: localhost:8080\r\nUser-Agent: curl/8.5.0\r\nAccept: */*\r\n\r\n",
    "GET /hello HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n\r\n",
};

#define REQUEST_COUNT (sizeof(requests) / sizeof(requests[0]))

/* Where the parse results go, so that the compiler cannot drop the parsing. */
static volatile size_t sink;

static double now_seconds(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv) {
    double floor_rps = 0;
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--min-requests-per-second") == 0 && i + 1 < argc) {
            floor_rps = atof(argv[++i]);
        } else {
            fprintf(stderr, "usage: %s [--min-requests-per-second N]\n", argv[0]);
            return 2;
        }
    }
    size_t lengths[REQUEST_COUNT];
    size_t set_bytes = 0;
    sluice_http_limits limits = SLUICE_HTTP_LIMITS_DEFAULT;
    sluice_http_field fields[100];
    for (size_t i = 0; i < REQUEST_COUNT; i++) {
        lengths[i] = strlen(requests[i]);
        set_bytes += lengths[i];
        sluice_http_request req = {.fields = fields, .fields_capacity = 100};
        int rc = sluice_http_parse_request(requests[i], lengths[i], &limits, &req);
        if (rc != (int)lengths[i]) {
            fprintf(stderr, "parser: request %zu of the set did not parse whole (%d)\n", i, rc);
            return 2;
        }
    }
    double best = 0;
    size_t checksum = 0;
    for (int round = 0; round < 5; round++) {
        size_t parsed = 0;
        double start = now_seconds(), elapsed;
        do {
            for (int repeat = 0; repeat < 1000; repeat++) {
                for (size_t i = 0; i < REQUEST_COUNT; i++) {
                    sluice_http_request req = {.fields = fields, .fields_capacity = 100};
                    int rc = sluice_http_parse_request(requests[i], lengths[i], &limits, &req);
                    checksum += (size_t)rc + req.num_fields;
                }
            }
            parsed += 1000 * REQUEST_COUNT;
            elapsed = now_seconds() - start;
        } while (elapsed < 1.0);
        double rps = (double)parsed / elapsed;
        if (rps > best) best = rps;
    }
    double bytes_per_request = (double)set_bytes / REQUEST_COUNT;
    sink = checksum;
    printf("parser: %.0f requests/s, %.0f MB/s (%zu requests of %.0f bytes on average, best of 5 rounds of 1 s)\n",
           best, best * bytes_per_request / 1e6, REQUEST_COUNT, bytes_per_request);
    if (floor_rps > 0 && best < floor_rps) {
        printf("parser: below the floor of %.0f requests/s\n", floor_rps);
        return 1;
    }
    return 0;
}
