#define _POSIX_C_SOURCE 200809L
#include "test_support.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int http_connect(int port, int receive_buffer) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) return -1;
    struct timeval timeout = {10, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof(timeout));
    if (receive_buffer > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &receive_buffer, sizeof(receive_buffer));
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof(addr));
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
    if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int http_exchange(int port, const char *request, char *out, size_t n) {
    int fd = http_connect(port, 0);
    if (fd < 0) return -1;
    size_t length = strlen(request);
    if (send(fd, request, length, MSG_NOSIGNAL) != (ssize_t)length) {
        close(fd);
        return -1;
    }
    size_t got = 0;
    ssize_t r;
    while (got < n - 1 && (r = recv(fd, out + got, n - 1 - got, 0)) > 0) got += (size_t)r;
    close(fd);
    out[got] = '\0';
    int status = -1;
    if (sscanf(out, "HTTP/1.1 %d", &status) != 1) return -1;
    return status;
}

int http_request(int port, const char *method, const char *target, const char *body, char *out_body, size_t n) {
    size_t body_len = body ? strlen(body) : 0;
    char *request = malloc(1024 + body_len);
    if (request == NULL) return -1;
    snprintf(request, 1024 + body_len, "%s %s HTTP/1.1\r\nHost: t\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
             method, target, body_len, body ? body : "");
    char *response = malloc(65536);
    int status = response ? http_exchange(port, request, response, 65536) : -1;
    free(request);
    const char *start = response ? strstr(response, "\r\n\r\n") : NULL;
    if (out_body && n) snprintf(out_body, n, "%s", start ? start + 4 : "");
    free(response);
    return status;
}

sluice_server *start_server(int *out_port, const sluice_server_options *options, void (*add_routes)(sluice_server *)) {
    sluice_server_options defaults = SLUICE_SERVER_OPTIONS_INIT;
    defaults.port = 0;
    sluice_server *server = NULL;
    CHECK_RC(sluice_server_create(&server, options ? options : &defaults), SLUICE_OK);
    add_routes(server);
    CHECK_RC(sluice_server_start(server, out_port), SLUICE_OK);
    CHECK(*out_port > 0);
    return server;
}
