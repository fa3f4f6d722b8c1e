#!/bin/bash
# run_jvp128_h200.sh - the D = 64 JVP at 128 keys a block (tiles.h JVP variants 2, 3) against row 0, on one H200
# (from the repository root): a tuning build of D = 64 only (libjfa and test_gpu_sm90_jvp_variants), timing in one
# process (bench/bench_variants.py), then the variants test. Logs in $OUT.   bash bench/device/run_jvp128_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_jvp128}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-jvp128
JFA_H200_TARGETS="jfa test_gpu_sm90_jvp_variants" jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON \
  -DJFA_HEAD_DIMS=64 || { echo "BUILD FAILED"; grep -B2 -A12 -E "error|FAILED" "$OUT/build.log" | head -40; exit 1; }
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so timeout 40 python3 bench/bench_variants.py --iters 10 \
  --rows jvp:4096:64:0:0,2,3 --rows jvp:16384:64:1:0,2,3 2>&1 | tee "$OUT/bench.log"
echo "t=$(( $(date +%s) - T0 ))"
timeout 40 $B/tests/gpu/test_gpu_sm90_jvp_variants > "$OUT/test.log" 2>&1; echo "test rc=$?"
grep -E "passed|FAIL" "$OUT/test.log" | head -8
