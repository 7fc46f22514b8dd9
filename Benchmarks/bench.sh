#!/usr/bin/env bash
# make bench: see bench.py. Usage: bench.sh PATH_TO_SLUICE_DEMO [bench.py options]
set -euo pipefail
exec python3 "$(dirname "$0")/bench.py" "$@"
