#!/bin/bash
# Instructions per request, user space, counted by callgrind: a figure that does not move
# with the machine's speed, for comparing two builds step by step (the shared-core comparison,
# Benchmarks/shared_core.py, judges what they cost in time).
#
# Usage: Benchmarks/instructions.sh SERVER [PATH] [PORT]
#   SERVER  a demo binary taking --port (a static release build, as the benchmarks use, or
#           the C demo, whose libsluice.so is stripped and profiled the same way)
#   PATH    the request path, /hello by default; PORT 18290 by default
#
# valgrind 3.19 cannot read the Swift toolchain's DWARF, so it runs a copy with its debug
# sections stripped. After a 2 s warm-up the counters are zeroed, 4 s of `wrk -t1 -c16` run,
# and the count is divided by wrk's requests. Repeats within about ±1%; instructions are not
# time (a change can run fewer and cost more), so keep a set of changes only on shared_core.py.
set -euo pipefail
server=${1:?usage: instructions.sh SERVER [PATH] [PORT]}
path=${2:-/hello}
port=${3:-18290}
for tool in valgrind callgrind_control wrk strip taskset; do
    command -v "$tool" >/dev/null || { echo "instructions.sh: $tool is missing (apt-get install valgrind wrk)" >&2; exit 1; }
done
scratch=$(mktemp -d)
trap 'pkill -f "$scratch/server --port $port" 2>/dev/null || true; rm -rf "$scratch"' EXIT
strip --strip-debug -o "$scratch/server" "$server"
# The C demo's code is in libsluice.so (RelWithDebInfo): a stripped copy of it goes first in
# the library path too, or valgrind gives up on its DWARF.
library=$(ldd "$server" | awk '/libsluice/ {print $3}')
if [ -n "$library" ]; then strip --strip-debug -o "$scratch/$(basename "$library")" "$library"; fi
LD_LIBRARY_PATH="$scratch${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" \
    valgrind --tool=callgrind --callgrind-out-file="$scratch/out" "$scratch/server" --port "$port" >"$scratch/log" 2>&1 &
for _ in $(seq 100); do
    grep -q listening "$scratch/log" && break
    sleep 0.2
done
grep -q listening "$scratch/log" || { echo "instructions.sh: the server did not start:" >&2; cat "$scratch/log" >&2; exit 1; }
taskset -c 1 wrk -t1 -c16 -d2s "http://127.0.0.1:$port$path" >/dev/null
callgrind_control -z "$scratch/server" >/dev/null 2>&1
requests=$(taskset -c 1 wrk -t1 -c16 -d4s "http://127.0.0.1:$port$path" | awk '/requests in/ {print $1}')
callgrind_control -d "$scratch/server" >/dev/null 2>&1
sleep 1
dump=$(ls -t "$scratch"/out.* | head -1)
instructions=$(awk '/^summary:/ {print $2}' "$dump")
echo "$path: $requests requests, $((instructions / requests)) instructions per request (user space, callgrind)"
# INSTRUCTIONS_KEEP=FILE keeps the profile, for callgrind_annotate.
if [ -n "${INSTRUCTIONS_KEEP:-}" ]; then cp "$dump" "$INSTRUCTIONS_KEEP"; fi
