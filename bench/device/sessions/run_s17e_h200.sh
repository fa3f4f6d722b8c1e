#!/bin/bash
# run_s17e_h200.sh - the seventeenth session's fifth call (from the repository root; .seed carried): the 16-bit
# forward / JVP's pass for an additive mask's staged tile (common/softmax.cuh: a column pair's biases one load, the
# key interval tested only where it cuts the block). Build of libjfa and test_gpu_masks (every head dim, -Werror),
# then, bounded by the deadline DL (seconds from the start, default 300): test_gpu_masks with the tiles (default) and
# without (JFA_SM80_BIAS_TILES=0), compute-sanitizer memcheck on its case 48, and the bias lanes against the package.
# Logs in $OUT.   bash bench/device/run_s17e_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s17e}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-300}
B=build-s17e
JFA_H200_TARGETS="jfa test_gpu_masks" jfa_h200_build $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
{
  LIMIT=$(left 200) jfa_run $B/tests/gpu/test_gpu_masks
  LIMIT=$(left 170) jfa_run env JFA_SM80_BIAS_TILES=0 $B/tests/gpu/test_gpu_masks
} > "$OUT/tests.log" 2>&1
grep -E "^rc=|passed, .* failed|^\[FAIL\]" "$OUT/tests.log" | head -12; echo "t=$(( $(date +%s) - T0 ))"
JFA_SAN_TAIL=2 jfa_sanitize memcheck $(left 130) test_gpu_masks 48 2>&1 | tee "$OUT/san.log"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 0) python3 bench/bench_lanes.py --iters 5 --triton-path .seed \
  --lanes bfloat16:128:4096:bias,bfloat16:64:4096:bias 2>&1 | tee "$OUT/lanes_mask.log"
echo "t=$(( $(date +%s) - T0 ))"
