#!/bin/bash
# run_tables_h200.sh - the issues' tables from one run each, on the current defaults (from the repository root; one
# H200; .seed carried: the Triton package). A default build of libjfa and jfa_bench, then
#   1. issue 19's table: jfa against cuDNN and flash (bench/compare_torch.py);
#   2. issues 17 / 18's lanes: jfa.torch against the Triton package and SDPA (bench/bench_lanes.py): float32 D = 64 /
#      128, bf16 D = 96 / 128 / 192 / 256 at N = 4096, a dense boolean mask, a window, plain causal.
# Logs in $OUT.   bash bench/device/run_tables_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_tables}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-tables
JFA_H200_TARGETS="jfa jfa_bench" jfa_h200_build $B "$OUT/build.log" -DJFA_BUILD_TESTS=OFF ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd bench && timeout 170 python3 compare_torch.py ../$B/bench/jfa_bench --iters 10 > "$OUT/compare.log" 2>&1)
cat "$OUT/compare.log"; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L=$(( 560 - ($(date +%s) - T0) ))
timeout $L python3 bench/bench_lanes.py --iters 8 --triton-path .seed --lanes \
float32:64:2048:none,float32:128:2048:none,float32:64:4096:none,bfloat16:256:4096:none,bfloat16:192:4096:none,\
bfloat16:128:4096:none,bfloat16:96:4096:none,bfloat16:64:4096:none,bfloat16:128:4096:dense,\
bfloat16:128:16384:window2048,bfloat16:128:16384:causal > "$OUT/lanes.log" 2>&1
cat "$OUT/lanes.log"; echo "t=$(( $(date +%s) - T0 ))"
