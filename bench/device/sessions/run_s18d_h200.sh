#!/bin/bash
# run_s18d_h200.sh - the eighteenth session's last device seconds (from the repository root; .seed carried): the sm90
# forward / JVP's bias tiles by TMA (be953db), checked by the suites its change reaches. Build of libjfa,
# test_gpu_masks, test_gpu_nan and test_gpu_blockmask (every head dim, -Werror), then, bounded by the deadline DL
# (default 170): test_gpu_masks (bias tiles on sm90 and, JFA_SM90_BIAS=0, on sm80), test_gpu_nan, test_gpu_blockmask,
# the bias lanes against the package and SDPA. Logs in $OUT.   bash bench/device/run_s18d_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s18d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-170}
B=build-s18d
JFA_H200_TARGETS="jfa test_gpu_masks test_gpu_nan test_gpu_blockmask" jfa_h200_build $B "$OUT/build.log" \
  -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 60) python3 bench/bench_lanes.py --iters 5 --triton-path .seed \
  --lanes bfloat16:128:4096:bias,bfloat16:64:4096:bias 2>&1 | tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
{
  LIMIT=$(left 35) jfa_run $B/tests/gpu/test_gpu_masks &
  LIMIT=$(left 35) jfa_run env JFA_SM90_BIAS=0 $B/tests/gpu/test_gpu_masks > "$OUT/masks_nosm90bias.log" 2>&1 &
  wait
  LIMIT=$(left 15) jfa_run $B/tests/gpu/test_gpu_nan
  LIMIT=$(left 0) jfa_run $B/tests/gpu/test_gpu_blockmask
} > "$OUT/tests.log" 2>&1
grep -E "^rc=|passed, .* failed|^\[FAIL\]" "$OUT/tests.log" "$OUT/masks_nosm90bias.log" | head -20
echo "t=$(( $(date +%s) - T0 ))"
