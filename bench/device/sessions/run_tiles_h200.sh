#!/bin/bash
# run_tiles_h200.sh - the twelfth session's tuning variants, measured on one H200 before any becomes a default (from
# the repository root; .seed carried). A tuning build of every head dim (-Werror), then
#   1. test_gpu_sm90_bwd under JFA_TUNE_SM90_BWD=10 (the D = 64 backward with three consumers, 192 keys a CTA) and
#      =11 (128 query rows a stage), both against float64 with dK / dV bitwise the default's, and under
#      JFA_TUNE_SM90_BWD_HG=3 (the 1-D grid in groups of 3 (batch, kv head) pairs, longest first);
#   2. bench_variants.py: the backward's 10 / 11 against the default at D = 64, N = 4096 / 16384, causal and not; the
#      grouping (HG = 8 / 16 / 32) on causal rows at D = 64 / 128;
#   3. bench_variants.py: the D = 96 forward persistent (variants 27 = row 0 so, 28 = 26 so) against row 0 and 26,
#      D = 128's row 0 beside them; the D = 64 forward persistent (29, two consumers) against row 0 (three consumers,
#      not persistent) and 13;
#   4. test_gpu_sm90_variants (27 bitwise row 0, also at 7 CTAs; 28; 29 bitwise row 0, also at 7 CTAs) and
#      test_gpu_sm90_jvp_variants (the D = 96 JVP's variant 7 against float64).
# Logs in $OUT.   bash bench/device/run_tiles_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_tiles}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-tiles
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 150 ctest -R "^test_gpu_sm90_bwd_(tune10|tune11|hg3)$" -j3 --timeout 140 --output-on-failure) > "$OUT/ctest_bwd10.log" 2>&1
grep -E "tests passed|\*\*\*|Not Run|FAIL" "$OUT/ctest_bwd10.log" | head -12; echo "t=$(( $(date +%s) - T0 ))"
PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so timeout 120 python3 bench/bench_variants.py --iters 10 \
  --rows bwd:4096:64:0:-,JFA_TUNE_SM90_BWD=10,JFA_TUNE_SM90_BWD=11 --rows bwd:4096:64:1:-,JFA_TUNE_SM90_BWD=10,JFA_TUNE_SM90_BWD=11 \
  --rows bwd:16384:64:0:-,JFA_TUNE_SM90_BWD=10,JFA_TUNE_SM90_BWD=11 --rows bwd:16384:64:1:-,JFA_TUNE_SM90_BWD=10,JFA_TUNE_SM90_BWD=11 \
  --rows bwd:4096:64:1:-,JFA_TUNE_SM90_BWD_HG=8,JFA_TUNE_SM90_BWD_HG=16,JFA_TUNE_SM90_BWD_HG=32 \
  --rows bwd:4096:128:1:-,JFA_TUNE_SM90_BWD_HG=8,JFA_TUNE_SM90_BWD_HG=16 \
  --rows bwd:16384:128:1:-,JFA_TUNE_SM90_BWD_HG=16 2>&1 | tee "$OUT/bwd10.log"
PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so timeout 100 python3 bench/bench_variants.py --iters 10 \
  --rows fwd:4096:96:0:0,26,27,28 --rows fwd:16384:96:1:0,26,27,28 --rows fwd:16384:96:w2048:0,27 \
  --rows fwd:4096:128:0:0 --rows fwd:16384:128:1:0 \
  --rows fwd:4096:64:0:0,13,29 --rows fwd:4096:64:1:0,13,29 --rows fwd:16384:64:1:0,29 2>&1 | tee "$OUT/fwd96.log"
echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 120 ctest -R "^test_gpu_sm90_(jvp_)?variants$" -j2 --timeout 110 --output-on-failure) \
  > "$OUT/ctest_var.log" 2>&1
grep -E "tests passed|\*\*\*|Not Run|FAIL" "$OUT/ctest_var.log" | head; echo "t=$(( $(date +%s) - T0 ))"
