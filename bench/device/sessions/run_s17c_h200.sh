#!/bin/bash
# run_s17c_h200.sh - the seventeenth session's third call (from the repository root; .seed carried): the additive
# mask's block map read 16 bytes a lane (mask_blockmap.cu bmap_rows_bias_kernel), and racecheck's hazards on
# test_gpu_masks 41 in full. Build of libjfa and the mask tests (every head dim, -Werror), then, each step bounded by
# the deadline DL (seconds from the start, default 420):
#   1. test_gpu_masks (bias tiles; cases 48-52 with aligned rows: the new map kernel), test_gpu_blockmask, and
#      test_gpu_masks with JFA_SM80_BIAS_TILES=0;
#   2. compute-sanitizer racecheck on test_gpu_masks 41 with the hazards' lines, with and without the bias tiles;
#   3. bench_lanes.py bias lanes, jfa's kernels per call (--profile, stderr) then against the Triton package and SDPA.
# Logs in $OUT.   bash bench/device/run_s17c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s17c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-420}
B=build-s17c
JFA_H200_TARGETS="jfa test_gpu_masks test_gpu_blockmask" jfa_h200_build $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
{
  LIMIT=$(left 300) jfa_run $B/tests/gpu/test_gpu_masks
  LIMIT=$(left 280) jfa_run $B/tests/gpu/test_gpu_blockmask
  LIMIT=$(left 260) jfa_run env JFA_SM80_BIAS_TILES=0 $B/tests/gpu/test_gpu_masks
} > "$OUT/tests.log" 2>&1
grep -E "^rc=|passed, .* failed|^\[FAIL\]" "$OUT/tests.log" | head -20; echo "t=$(( $(date +%s) - T0 ))"
for bt in 1 0; do
  echo "== racecheck test_gpu_masks 41, JFA_SM80_BIAS_TILES=$bt"
  JFA_SM80_BIAS_TILES=$bt timeout $(left 200) compute-sanitizer --tool racecheck --racecheck-report hazard \
    --print-limit 12 $B/tests/gpu/test_gpu_masks 41 > "$OUT/race_$bt.log" 2>&1
  echo "rc=$?"
  grep -E "Race|hazard|at .*0x|in .*kernel|SUMMARY" "$OUT/race_$bt.log" | cut -c1-220 | head -24
done 2>&1 | tee "$OUT/race.log"
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 120) python3 bench/bench_lanes.py --iters 5 --profile --f32-precision highest \
  --lanes bfloat16:128:4096:bias,float32:64:4096:bias > "$OUT/lanes_profile.log" 2>&1
grep -E "^# profile|^#   |\| jfa" "$OUT/lanes_profile.log" | head -40
timeout $(left 0) python3 bench/bench_lanes.py --iters 5 --triton-path .seed --f32-precision highest,high \
  --lanes bfloat16:128:4096:bias,bfloat16:64:4096:bias,float32:64:4096:bias 2>&1 | tee "$OUT/lanes_mask.log"
echo "t=$(( $(date +%s) - T0 ))"
