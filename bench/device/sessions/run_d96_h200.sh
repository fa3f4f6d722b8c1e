#!/bin/bash
# run_d96_h200.sh - D = 96 without PAD (P V over 96 columns as 64 + 32, fwd.cuh mma_pv_cols) on one H200 (from the
# repository root): a tuning build of D = 96 alone, then
#   1. test_gpu_sm90_variants (forward variant 26 against float64, with the D = 96 cases: masked ones too) and
#      test_gpu_sm90_jvp_variants (JVP variant 7 against float64);
#   2. timing in one process (bench/bench_variants.py): forward 0 / 26, JVP 0 / 7 at N = 4096 and causal 16384.
# Logs in $OUT.   bash bench/device/run_d96_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_d96}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-d96
JFA_H200_TARGETS="jfa test_gpu_sm90_variants test_gpu_sm90_jvp_variants" \
  jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_HEAD_DIMS="96" -DJFA_WARNINGS_AS_ERRORS=ON ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout 80 python3 bench/bench_variants.py --iters 10 --rows fwd:4096:96:0:0,26 --rows fwd:16384:96:1:0,26 \
  --rows jvp:4096:96:0:0,7 --rows jvp:16384:96:1:0,7 2>&1 | tee "$OUT/bench.log"
echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 150 ctest -R "^test_gpu_sm90_(jvp_)?variants$" -j2 --timeout 140 --output-on-failure) \
  > "$OUT/ctest.log" 2>&1
grep -E "tests passed|\*\*\*|Not Run|FAIL" "$OUT/ctest.log" | head; echo "t=$(( $(date +%s) - T0 ))"
