#!/bin/bash
# run_s27a_h200.sh - written at the end of the twenty-sixth session for the next one's first call (from the repository
# root; .seed carried): one default build of every head dim (-Werror), then
#   1. the GPU suite (`ctest -L gpu -E 64bit`) at HEAD (the twenty-sixth session's last code, a9886ed, passed it: 64 of
#      65; this repeats it on a fresh machine before new work);
#   2. kernel-level ratios (jfa_bench, two rounds): causal window 2048 against plain causal at N = 16384, D = 64 and
#      128; 8 packed sequences of 2048 against causal B = 8, N = 2048 at D = 64 and 128 (issue 18's 85%);
#   3. issue 18's table from one process against the Triton package and SDPA (bench_lanes.py).
# DL: the deadline (default 570). Logs in $OUT.   DL=570 bash bench/device/run_s27a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s27a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-570}
B=build-s27a
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
jfa_gpu_suite $B "$OUT/ctest.log" 220
echo "t=$(( $(date +%s) - T0 ))"
{
  for r in 1 2; do
    for d in 64 128; do
      timeout $(left 150) $JFA_BENCH --window 16384 $d 2048 | grep -e ^fwd -e ^jvp -e ^bwd
      timeout $(left 150) $JFA_BENCH --causal 1 16384 $d | grep -e ^fwd -e ^jvp -e ^bwd
      timeout $(left 150) $JFA_BENCH --varlen 8 2048 $d | grep -e ^fwd -e ^jvp -e ^bwd
      timeout $(left 150) $JFA_BENCH --causal 8 2048 $d | grep -e ^fwd -e ^jvp -e ^bwd
    done
  done
} 2>&1 | tee "$OUT/ratios.log"
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L="bfloat16:64:4096:none,bfloat16:96:4096:none,bfloat16:128:4096:none,bfloat16:192:4096:none,bfloat16:256:4096:none"
L="$L,bfloat16:128:4096:dense,bfloat16:128:16384:causal,bfloat16:128:16384:window2048"
L="$L,bfloat16:64:16384:causal,bfloat16:64:16384:window2048"
timeout $(left 3) python3 bench/bench_lanes.py --iters 7 --lanes $L --triton-path .seed > "$OUT/lanes18.log" 2>&1
grep -v Warning "$OUT/lanes18.log" | grep -v "^#   " | tail -45; echo "t=$(( $(date +%s) - T0 ))"
