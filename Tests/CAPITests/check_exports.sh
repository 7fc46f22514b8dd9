#!/usr/bin/env bash
# Compares the functions Include/sluice.h declares with the dynamic symbols libsluice defines.
set -euo pipefail
header=$1 library=$2
declared=$(grep -oE 'SLUICE_EXPORT [^;(]*\bsluice_[a-z_]+\(' "$header" | grep -oE 'sluice_[a-z_]+\($' | tr -d '(' | sort -u)
exported=$(nm -D --defined-only --extern-only "$library" | awk '{print $3}' | sort -u)
if [ "$declared" != "$exported" ]; then
  echo "declared but not exported:"; comm -23 <(echo "$declared") <(echo "$exported")
  echo "exported but not declared:"; comm -13 <(echo "$declared") <(echo "$exported") | head -20
  exit 1
fi
echo "api_exports: $(echo "$declared" | wc -l) functions, exactly the header's"
