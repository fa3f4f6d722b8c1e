#!/bin/bash
# run_band_h200.sh - the ninth session's device call (from the repository root; one H200): a tuning build of
# every head dim, then
#   1. the default GPU suite (ctest -L gpu, not the 64-bit or tuning entries): the D = 64 forward's new row 0
#      (three consumers, PVLAG) and the sm90 backward's bands (windows on the unmasked kernel, bwd.cuh
#      sm90_bwd_band) run as defaults there; the second-order Python tests (torch >= 2);
#   2. timing in one process (bench/bench_variants.py): the backward of a causal window of 2048 at N = 16384
#      (D = 128, 64) on the band path against the MASKED kernel (JFA_TUNE_SM90_BWD_NOBAND=1) and plain causal;
#      the D = 64 forward, row 0 against variant 22 (the old row 0);
#   3. compute-sanitizer memcheck / racecheck / synccheck on a band case (test_gpu_masks 38);
#   4. the tuning entries of the new rows (test_gpu_sm90_variants, modes / nan _tune20 / _tune22,
#      test_gpu_masks_sm90bwd_noband).
# Logs in $OUT.   bash bench/device/run_band_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_band}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-band
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 260 ctest -L gpu -E "64bit|_tune|variants|_noband" -j8 --timeout 250 --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -20; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout 60 python3 -m pytest -q -p no:cacheprovider tests/python/test_second_order.py > "$OUT/so_tests.log" 2>&1
tail -2 "$OUT/so_tests.log"
timeout 120 python3 bench/bench_variants.py --iters 15 \
  --rows bwd:16384:128:w2048:-,JFA_TUNE_SM90_BWD_NOBAND=1 --rows bwd:16384:128:1:- \
  --rows bwd:16384:64:w2048:-,JFA_TUNE_SM90_BWD_NOBAND=1 --rows bwd:16384:64:1:- \
  --rows bwd:4096:128:w1024:-,JFA_TUNE_SM90_BWD_NOBAND=1 --rows bwd:4096:128:1:- \
  --rows fwd:4096:64:0:0,22 --rows fwd:16384:64:0:0,22 --rows fwd:4096:64:1:0,22 --rows fwd:16384:64:1:0,22 \
  > "$OUT/bench.log" 2>&1
cat "$OUT/bench.log"; echo "t=$(( $(date +%s) - T0 ))"
{
  jfa_sanitize memcheck 90 test_gpu_masks 38
  jfa_sanitize racecheck 120 test_gpu_masks 39
  jfa_sanitize synccheck 90 test_gpu_masks 38
} > "$OUT/san.log" 2>&1
cat "$OUT/san.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(( 560 - ($(date +%s) - T0) )) ctest -R "sm90_variants|modes_tune2[02]|nan_tune2[02]|masks_sm90bwd_noband" -j4 \
  --output-on-failure) > "$OUT/ctest_tune.log" 2>&1
grep -E "tests passed|Failed|\*\*\*" "$OUT/ctest_tune.log" | head; echo "t=$(( $(date +%s) - T0 ))"
