#!/bin/bash
# run_dense_h200.sh - the ninth session's third device call (from the repository root; one H200; .seed carried):
# a tuning build of every head dim, then
#   1. the default GPU suite (ctest -L gpu without the 64-bit and tuning entries) and the band / mask tuning
#      entries: the boolean mask map's 16-byte loads (mask_blockmap.cu) and bands at D = 96 / 128 only;
#   2. the backward of a causal window at D = 96 (band against JFA_TUNE_SM90_BWD_NOBAND=1, plain causal), at 64
#      the band on the unmasked kernel in SPLITO's and TMAO's orders (=2, JFA_TUNE_SM90_BWD=9) against the MASKED one;
#   3. issue 18's table from one run (bench/bench_lanes.py, jfa, the Triton package, SDPA) with jfa's kernels
#      per call under torch.profiler (--profile: the mask map's share of a dense-mask call);
#   4. compute-sanitizer memcheck on two boolean-mask cases.
# Logs in $OUT.   bash bench/device/run_dense_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_dense}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-dense
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 260 ctest -L gpu -E "64bit|_tune|variants|_noband" -j8 --timeout 250 --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -20; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 120 ctest -R "masks_sm90bwd_noband|masks_sm90bwd_band|masks_sm90bwd_tune9|blockmask_sm90bwd_tune9" -j5 --output-on-failure) \
  > "$OUT/ctest_tune.log" 2>&1
grep -E "tests passed|Failed|\*\*\*" "$OUT/ctest_tune.log" | head; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout 90 python3 bench/bench_variants.py --iters 15 \
  --rows bwd:16384:96:w2048:-,JFA_TUNE_SM90_BWD_NOBAND=1 --rows bwd:16384:96:1:- \
  --rows bwd:16384:128:w2048:-,JFA_TUNE_SM90_BWD_NOBAND=1 --rows bwd:16384:128:1:- \
  --rows bwd:16384:64:w2048:-,JFA_TUNE_SM90_BWD_NOBAND=2,JFA_TUNE_SM90_BWD_NOBAND=2+JFA_TUNE_SM90_BWD=9 \
  --rows bwd:16384:64:1:-,JFA_TUNE_SM90_BWD=9 > "$OUT/bench.log" 2>&1
cat "$OUT/bench.log"; echo "t=$(( $(date +%s) - T0 ))"
timeout 150 python3 bench/bench_lanes.py --iters 8 --triton-path .seed --profile \
  --lanes bfloat16:128:4096:dense,bfloat16:128:4096:none,bfloat16:128:16384:window2048,bfloat16:128:16384:causal,bfloat16:256:4096:none,bfloat16:96:4096:none \
  > "$OUT/lanes.log" 2> "$OUT/lanes_err.log"
cat "$OUT/lanes.log"; grep -A7 "profile.*dense" "$OUT/lanes_err.log" | head -30; echo "t=$(( $(date +%s) - T0 ))"
{
  jfa_sanitize memcheck 90 test_gpu_blockmask 0
  jfa_sanitize memcheck 90 test_gpu_masks 20
} > "$OUT/san.log" 2>&1
cat "$OUT/san.log"; echo "t=$(( $(date +%s) - T0 ))"
