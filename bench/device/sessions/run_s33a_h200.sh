#!/bin/bash
# run_s33a_h200.sh - the thirty-third session's first call (from the repository root): the default build of every
# head dim (-Werror) and the whole GPU suite (`ctest -L gpu -E 64bit`, 8 at once), the first run on a GPU of the
# thirtieth to thirty-second sessions' GPU-side changes (the last whole-suite pass: 102e446).
#   DL=590 bash bench/device/run_s33a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s33a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-s33
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
jfa_gpu_suite $B "$OUT/suite.log" 8
grep -E "^ *[0-9]+/[0-9]+ Test +#[0-9]+: " "$OUT/suite.log" | sed 's/^ *//' > "$OUT/suite_results.txt"
echo "t=$(( $(date +%s) - T0 ))"
