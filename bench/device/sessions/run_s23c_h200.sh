#!/bin/bash
# run_s23c_h200.sh - the twenty-third session's last call (from the repository root): one default build of every head
# dim (-Werror) at HEAD, then
#   1. the whole GPU suite (ctest -L gpu -E 64bit; new this session: D = 96's three-consumer forward and D = 64's
#      persistent masked forward as defaults, the NaN suite's windowed pass, the masks' persistent route bit);
#   2. issue 18's lanes from one process against the Triton package (.seed, carried) and SDPA (run_s21c's list).
# DL: the deadline (default 400). Logs in $OUT.   DL=400 bash bench/device/run_s23c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s23c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-400}
B=build-s23c
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
jfa_gpu_suite $B "$OUT/ctest.log" 110; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L="bfloat16:64:4096:none,bfloat16:96:4096:none,bfloat16:128:4096:none,bfloat16:192:4096:none,bfloat16:256:4096:none"
L="$L,bfloat16:128:4096:dense,bfloat16:128:16384:causal,bfloat16:128:16384:window2048"
L="$L,bfloat16:64:16384:causal,bfloat16:64:16384:window2048"
timeout $(left 3) python3 bench/bench_lanes.py --iters 7 --lanes $L --triton-path .seed > "$OUT/lanes18.log" 2>&1
grep -v Warning "$OUT/lanes18.log" | tail -45; echo "t=$(( $(date +%s) - T0 ))"
