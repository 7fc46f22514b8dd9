#!/usr/bin/env bash
# Installs Sluice into a fresh prefix, builds a one-file C program against the installed
# package twice (pkg-config, then CMake's find_package), runs each and talks HTTP to it.
set -euo pipefail
build=$1 work=$2
rm -rf "$work" && mkdir -p "$work"
prefix=$work/prefix
cmake --install "$build" --prefix "$prefix" >/dev/null
# The Swift runtime is inside the library: nothing of a Swift toolchain is needed to use it.
library=$(find "$prefix" -name 'libsluice.so.0' | head -1)
if ldd "$library" | grep -q 'libswift\|libdispatch\|not found'; then
  echo "installed libsluice depends on a Swift toolchain library:"; ldd "$library"; exit 1
fi

cat > "$work/hello.c" <<'C'
#include <stdio.h>
#include <string.h>
#include <sluice.h>

static void hi(sluice_request *request, void *user_data) {
    (void)user_data;
    sluice_respond(request, 200, NULL, 0, "hi from C", 9);
}

static void quit(sluice_request *request, void *user_data) {
    sluice_respond(request, 200, NULL, 0, "bye", 3);
    sluice_server_stop((sluice_server *)user_data);
}

int main(void) {
    sluice_server_options options = SLUICE_SERVER_OPTIONS_INIT;
    options.port = 0;
    sluice_server *server = NULL;
    int port = 0;
    if (sluice_server_create(&server, &options) != 0) return 1;
    sluice_server_add_route(server, "GET", "/hi", hi, NULL, NULL);
    sluice_server_add_route(server, "GET", "/quit", quit, server, NULL);
    if (sluice_server_start(server, &port) != 0) return 1;
    printf("listening on http://127.0.0.1:%d\n", port);
    fflush(stdout);
    int rc = sluice_server_run(server);
    sluice_server_destroy(server);
    return rc;
}
C

export PKG_CONFIG_PATH="$prefix/lib/pkgconfig:$prefix/lib64/pkgconfig:${PKG_CONFIG_PATH:-}"
cc -std=c99 -Wall -Werror "$work/hello.c" $(pkg-config --cflags --libs sluice) -o "$work/hello-pkg-config"

mkdir -p "$work/consumer"
cat > "$work/consumer/CMakeLists.txt" <<'CM'
cmake_minimum_required(VERSION 3.22)
project(SluiceConsumer LANGUAGES C)
find_package(Sluice 0.1 REQUIRED)
add_executable(hello-find-package ../hello.c)
target_link_libraries(hello-find-package PRIVATE Sluice::sluice)
CM
cmake -S "$work/consumer" -B "$work/consumer/build" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/consumer/build" >/dev/null

for program in "$work/hello-pkg-config" "$work/consumer/build/hello-find-package"; do
  python3 - "$program" <<'PY'
import re, subprocess, sys, urllib.request
process = subprocess.Popen([sys.argv[1]], stdout=subprocess.PIPE, text=True)
port = int(re.match(r"listening on http://127\.0\.0\.1:(\d+)$", process.stdout.readline().strip()).group(1))
body = urllib.request.urlopen(f"http://127.0.0.1:{port}/hi", timeout=10).read()
assert body == b"hi from C", body
assert urllib.request.urlopen(f"http://127.0.0.1:{port}/quit", timeout=10).read() == b"bye"
assert process.wait(timeout=30) == 0
print(f"api_install: {sys.argv[1].rsplit('/', 1)[-1]} served over HTTP and exited 0")
PY
done
