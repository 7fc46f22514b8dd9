#!/usr/bin/env bash
# Installs what a make target needs and is missing, on Debian: with apt-get when root,
# otherwise it prints the exact command and stops. Usage: ensure-deps.sh build|test|bench
set -euo pipefail

need=()
missing_command() { ! command -v "$1" >/dev/null 2>&1; }

case "${1:-build}" in
  build|test|bench) ;;
  *) echo "usage: $0 build|test|bench" >&2; exit 2 ;;
esac

missing_command pkg-config && need+=(pkg-config)
pkg-config --exists libuv 2>/dev/null || need+=(libuv1-dev)
if [ "$1" = test ] || [ "$1" = bench ]; then
  missing_command cmake && need+=(cmake)
  missing_command ninja && need+=(ninja-build)
  missing_command python3 && need+=(python3)
fi
if [ "$1" = test ] || [ "$1" = bench ]; then
  missing_command wrk && need+=(wrk)
  missing_command haproxy && need+=(haproxy)
fi
if [ "$1" = bench ]; then
  missing_command node && need+=(nodejs)
  missing_command taskset && need+=(util-linux)
fi

if [ ${#need[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq "${need[@]}" >/dev/null
  else
    echo "missing: ${need[*]}" >&2
    echo "run: sudo apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi

if [ "$1" = test ] && ! python3 -c 'import pytest' 2>/dev/null; then
  echo "installing: pytest (PyPI)"
  python3 -m pip install --quiet pytest
fi
exit 0
