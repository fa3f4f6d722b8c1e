#!/bin/bash
# run_s19e_h200.sh - the nineteenth session's fifth call (from the repository root; .seed carried): HEAD (the D = 64
# masked forward on variant 30's tiles: two consumers, PVLAG with MPASS). One default build of every head dim
# (-Werror), the whole GPU suite, the D = 64 mask lanes and the bias lanes against the package and SDPA. DL: the
# deadline (default 420). Logs in $OUT.   DL=420 bash bench/device/run_s19e_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s19e}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-420}
B=build-s19e
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
jfa_gpu_suite $B "$OUT/ctest.log" 60; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 3) python3 bench/bench_lanes.py --iters 5 --triton-path .seed --f32-precision highest \
  --lanes bfloat16:64:4096:bias,bfloat16:64:4096:dense,bfloat16:64:16384:window2048,bfloat16:64:16384:causal 2>&1 |
  tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
