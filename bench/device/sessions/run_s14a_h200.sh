#!/bin/bash
# run_s14a_h200.sh - the fourteenth session's first call on one H200 (from the repository root; .seed carried).
# One tuning build of every head dim (-Werror), then
#   1. bench_variants.py --dtype float32: the float32 D = 64 backward (3xTF32) at small N, causal and not, on the
#      sm90 float32 kernel (default "-"), sm80's (JFA_SM90_F32_BWD=0: row 0, 8 warps and 128 keys a CTA; with
#      JFA_TUNE_BWD=1 its 4-warp tiles of 64 keys), and the sm90 kernel's tuning forms (SS: K, V hi parts from
#      shared memory; DQ: dQ by atomics), alternating in one process;
#   3. bench_lanes.py (after the suite, in the time left): the float32 causal lanes at N = 1024 / 2048 (D = 64) and 1024 (D = 128) against the Triton package, default dispatch and
#      with sm80's float32 backward (JFA_SM90_F32_BWD=0);
#   2. the default GPU suite plus the thirteenth session's tuning entries (the CTA order's groups of 3 and head
#      after head, the float32 causal tiles' switch): ctest -L gpu without the 64-bit, numbered-tuning, variants,
#      noband and nompass entries.
# Logs in $OUT.   bash bench/device/run_s14a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s14a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-s14a
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
V=-,JFA_SM90_F32_BWD=0,JFA_SM90_F32_BWD=0+JFA_TUNE_BWD=1,JFA_TUNE_SM90_F32_BWD_SS=1,JFA_TUNE_SM90_F32_BWD_DQ=1,-,JFA_SM90_F32_BWD=0,JFA_SM90_F32_BWD=0+JFA_TUNE_BWD=1
timeout 150 python3 bench/bench_variants.py --iters 10 --dtype float32 \
  --rows bwd:512:64:1:$V --rows bwd:1024:64:1:$V --rows bwd:2048:64:1:$V --rows bwd:4096:64:1:$V \
  --rows bwd:1024:64:0:$V 2>&1 | tee "$OUT/variants_f32.log"
echo "t=$(( $(date +%s) - T0 ))"
L=$(( 500 - ($(date +%s) - T0) ))
(cd $B && timeout $L ctest -L gpu -E "64bit|_tune[0-9]|variants|_noband|_nompass" -j8 --timeout 240 \
  --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -20; echo "t=$(( $(date +%s) - T0 ))"
LN=float32:64:1024:causal,float32:64:2048:causal,float32:128:1024:causal
timeout 45 python3 bench/bench_lanes.py --iters 8 --f32-precision highest --triton-path .seed --lanes $LN 2>&1 | tee "$OUT/lanes.log"
JFA_SM90_F32_BWD=0 timeout 45 python3 bench/bench_lanes.py --iters 8 --f32-precision highest --triton-path .seed \
  --lanes $LN 2>&1 | tee "$OUT/lanes_sm80bwd.log"
echo "t=$(( $(date +%s) - T0 ))"
