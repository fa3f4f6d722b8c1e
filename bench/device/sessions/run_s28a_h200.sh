#!/bin/bash
# run_s28a_h200.sh - written at the end of the twenty-seventh session for the next one's first call (from the
# repository root; .seed carried): one default build of every head dim (-Werror), then
#   1. the whole GPU suite (`ctest -L gpu -E 64bit`) at HEAD with the time to finish it (the twenty-seventh session's
#      last call cut test_python_gpu, the 66th entry, at its script's deadline; every other entry passed there);
#   2. kernel-level ratios of packed sequences and windows against plain causal (jfa_bench, D = 64 and 128): the
#      starting point of the next issue-18 step.
# DL: the deadline (default 570). Logs in $OUT.   DL=570 bash bench/device/run_s28a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s28a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-570}
B=build-s28a
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
jfa_gpu_suite $B "$OUT/ctest.log" 90; echo "t=$(( $(date +%s) - T0 ))"
{
  for d in 64 128; do
    timeout $(left 5) $JFA_BENCH --varlen 8 2048 $d | grep -e ^fwd -e ^jvp -e ^bwd | sed "s/^/[varlen 8x2048 D=$d] /"
    timeout $(left 5) $JFA_BENCH --window 16384 $d 2048 | grep -e ^fwd -e ^jvp -e ^bwd | sed "s/^/[window D=$d] /"
    timeout $(left 5) $JFA_BENCH --causal 1 16384 $d | grep -e ^fwd -e ^jvp -e ^bwd | sed "s/^/[causal 16384 D=$d] /"
  done
} 2>&1 | tee "$OUT/ratios.log"
echo "t=$(( $(date +%s) - T0 ))"
