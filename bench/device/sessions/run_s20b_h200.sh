#!/bin/bash
# run_s20b_h200.sh - the twentieth session's call after run_s20a's machine was taken back mid-call: HEAD's whole
# GPU suite (`ctest -L gpu -E 64bit`) in a default build of every head dim (-Werror). DL: the deadline (default
# 330). Logs in $OUT.   DL=330 bash bench/device/run_s20b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s20b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-330}
B=build-s20b
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
jfa_gpu_suite $B "$OUT/ctest.log" 3; echo "t=$(( $(date +%s) - T0 ))"
