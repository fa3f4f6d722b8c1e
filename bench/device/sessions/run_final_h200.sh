#!/bin/bash
# run_final_h200.sh - the ninth session's last device call (from the repository root; one H200; .seed carried):
# a tuning build of every head dim, then
#   1. the default GPU suite (ctest -L gpu without the 64-bit and tuning entries): the unmasked D = 64 backward
#      in TMAO's order and aligned packed sequences as bands run as defaults there; the tuning entries of the
#      band routes and of SPLITO at D = 64 (test_gpu_sm90_bwd_tune6);
#   2. timing in one process (bench/bench_variants.py): the D = 64 backward, TMAO (now the default) against
#      SPLITO (JFA_TUNE_SM90_BWD=6) at N = 4096 / 16384, causal and not; 8 packed causal sequences at N = 16384,
#      D = 128 / 96, band against the MASKED kernel (JFA_TUNE_SM90_BWD_NOBAND=1);
#   3. issue 19's table: jfa against cuDNN and flash (bench/compare_torch.py), with the time left.
# Logs in $OUT.   bash bench/device/run_final_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_final}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-final
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 260 ctest -L gpu -E "64bit|_tune|variants|_noband|_bandall" -j8 --timeout 250 --output-on-failure) \
  > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -20; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 150 ctest -R "masks_sm90bwd_noband|masks_sm90bwd_band|sm90_bwd_tune[69]$|masks_sm90bwd_tune9" -j6 \
  --output-on-failure) > "$OUT/ctest_tune.log" 2>&1
grep -E "tests passed|Failed|\*\*\*" "$OUT/ctest_tune.log" | head; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout 120 python3 bench/bench_variants.py --iters 15 \
  --rows bwd:4096:64:0:-,JFA_TUNE_SM90_BWD=6 --rows bwd:4096:64:1:-,JFA_TUNE_SM90_BWD=6 \
  --rows bwd:16384:64:0:-,JFA_TUNE_SM90_BWD=6 --rows bwd:16384:64:1:-,JFA_TUNE_SM90_BWD=6 \
  --rows bwd:16384:128:p8:-,JFA_TUNE_SM90_BWD_NOBAND=1 --rows bwd:16384:96:p8:-,JFA_TUNE_SM90_BWD_NOBAND=1 \
  --rows bwd:2048:128:1:- --rows bwd:16384:128:1:- > "$OUT/bench.log" 2>&1
cat "$OUT/bench.log"; echo "t=$(( $(date +%s) - T0 ))"
L=$(( 560 - ($(date +%s) - T0) ))
[ "$L" -gt 40 ] && (cd bench && timeout $L python3 compare_torch.py ../$B/bench/jfa_bench --iters 10 > "$OUT/compare.log" 2>&1)
cat "$OUT/compare.log"; echo "t=$(( $(date +%s) - T0 ))"
