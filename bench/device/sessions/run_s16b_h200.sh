#!/bin/bash
# run_s16b_h200.sh - the sixteenth session's second call (from the repository root; .seed carried): the GPU suite on
# the new defaults (tiles.h: the float32 backward's new prologue with dQ into dq, persistent up to 512 keys; the
# 16-bit backward's accumulate mode through shared memory), the persistent float32 backward's bound, and the float32
# lanes never measured against the Triton package (dense masks). One tuning build of every head dim (-Werror; ~120 s),
# then, each step bounded by the deadline DL (seconds from the start, default 540):
#   1. ctest -L gpu: the default suite and the entries of the float32 backward's / accumulate mode's other paths
#      (_tune_pro, _tune_nopro, _tune_persist, _tune_noaccv), not the other tuning entries (~150-200 s at -j8);
#   2. bench_variants.py: the float32 D = 64 backward at N = 1024 / 2048 / 4096 on the default (the new prologue,
#      not persistent above 512 keys) and persistent (JFA_TUNE_SM90_F32_BWD_PERSIST=1);
#   3. bench_lanes.py: float32 with a dense boolean mask (half the keys) at D = 64 / 128, N = 4096, both precisions,
#      against the Triton package and SDPA; then the small-N float32 lanes on the new defaults.
# Logs in $OUT.   bash bench/device/run_s16b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s16b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-540}
B=build-s16b
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 170) ctest -L gpu -j8 --timeout 240 --output-on-failure \
  -E "64bit|_tune[0-9]|_tune_(old|ewold|epi|hg|causal)|variants|_noband|_nompass|_sm90bwd|_bandall|_nowide") \
  > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30
grep '^\[FAIL\]' "$OUT/ctest.log" | head -10; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
V=-,JFA_TUNE_SM90_F32_BWD_PERSIST=1
timeout $(left 120) python3 bench/bench_variants.py --iters 8 --dtype float32 \
  --rows bwd:1024:64:1:$V,$V --rows bwd:1024:64:0:$V --rows bwd:2048:64:1:$V,$V --rows bwd:4096:64:0:$V,$V \
  2>&1 | tee "$OUT/variants_persist.log"
timeout $(left 50) python3 bench/bench_lanes.py --iters 5 --triton-path .seed --f32-precision highest,high \
  --lanes float32:64:4096:dense,float32:128:4096:dense 2>&1 | tee "$OUT/lanes_dense.log"
timeout $(left 0) python3 bench/bench_lanes.py --iters 8 --triton-path .seed --f32-precision highest \
  --lanes float32:64:512:causal,float32:64:256:causal,float32:64:512:none,float32:128:512:causal \
  2>&1 | tee "$OUT/lanes_small.log"
echo "t=$(( $(date +%s) - T0 ))"
