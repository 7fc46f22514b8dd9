/* sluice_log: one whole line per call on stderr, never blocking, CR/LF unable to forge lines. */
#define _GNU_SOURCE
#include "test_support.h"

#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>

/* What one call put into the pipe that stands in for stderr. */
typedef struct {
    int rc;
    char text[PIPE_BUF + 1];
    ssize_t length;
} logged;

static logged log_into(int pipe_read, int level, const char *label, const char *message) {
    logged result = {.rc = sluice_log(level, label, message)};
    result.length = read(pipe_read, result.text, sizeof(result.text) - 1);
    if (result.length < 0) result.length = 0;
    result.text[result.length] = '\0';
    return result;
}

int main(void) {
    CHECK_RC(sluice_log(-1, "app", "x"), SLUICE_EINVAL);
    CHECK_RC(sluice_log(SLUICE_LOG_OFF, "app", "x"), SLUICE_EINVAL);
    CHECK_RC(sluice_log(SLUICE_LOG_INFO, NULL, "x"), SLUICE_EINVAL);
    CHECK_RC(sluice_log(SLUICE_LOG_INFO, "app", NULL), SLUICE_EINVAL);

    /* stderr becomes a pipe this test reads; the checks wait until it is restored so that a
     * failure's message is seen. */
    int saved_stderr = dup(2), pipe_ends[2];
    CHECK(saved_stderr >= 0 && pipe2(pipe_ends, O_NONBLOCK) == 0);
    CHECK(dup2(pipe_ends[1], 2) == 2);

    logged plain = log_into(pipe_ends[0], SLUICE_LOG_WARNING, "app", "started port=8080");
    logged forged = log_into(pipe_ends[0], SLUICE_LOG_ERROR, "a\npp", "one\r\ncritical app: forged");
    static char long_message[3 * PIPE_BUF];
    memset(long_message, 'x', sizeof(long_message) - 1);
    logged cut = log_into(pipe_ends[0], SLUICE_LOG_TRACE, "app", long_message);
    /* Two-byte characters after the 11-byte "trace app: ": the cut falls inside one. */
    static char accented[3 * PIPE_BUF];
    for (size_t i = 0; i + 2 < sizeof(accented); i += 2) memcpy(accented + i, "\xC3\xA9", 2);
    logged cut_utf8 = log_into(pipe_ends[0], SLUICE_LOG_TRACE, "app", accented);

    /* Fill the pipe: the next line must be dropped at once, not wait for a reader. */
    char filler[4096];
    memset(filler, 'f', sizeof(filler));
    while (write(2, filler, sizeof(filler)) > 0) {}
    int dropped_rc = sluice_log(SLUICE_LOG_CRITICAL, "app", "no room");
    /* Drain; the dropped line never arrives, and a new one does. */
    while (read(pipe_ends[0], filler, sizeof(filler)) > 0) {}
    logged after = log_into(pipe_ends[0], SLUICE_LOG_NOTICE, "app", "room again");

    CHECK(dup2(saved_stderr, 2) == 2);
    close(saved_stderr);
    close(pipe_ends[1]);

    CHECK_RC(plain.rc, 0);
    CHECK(strcmp(plain.text, "warning app: started port=8080\n") == 0);
    CHECK_RC(forged.rc, 0);
    CHECK(strcmp(forged.text, "error a pp: one  critical app: forged\n") == 0);
    CHECK_RC(cut.rc, 0);
    CHECK(cut.length == PIPE_BUF - 1 && cut.text[PIPE_BUF - 2] == '\n');
    CHECK(strncmp(cut.text, "trace app: xxx", 14) == 0 && strchr(cut.text, '\n') == cut.text + PIPE_BUF - 2);
    /* The split character is left out whole: the line ends with a complete one. */
    CHECK_RC(cut_utf8.rc, 0);
    CHECK(cut_utf8.length == PIPE_BUF - 2 && cut_utf8.text[PIPE_BUF - 3] == '\n');
    CHECK(memcmp(cut_utf8.text + PIPE_BUF - 5, "\xC3\xA9\n", 3) == 0);
    CHECK_RC(dropped_rc, 1);
    CHECK_RC(after.rc, 0);
    CHECK(strcmp(after.text, "notice app: room again\n") == 0);

    close(pipe_ends[0]);
    puts("api_log: ok");
    return 0;
}
