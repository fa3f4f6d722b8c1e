#!/bin/bash
# run_s17d_h200.sh - the seventeenth session's fourth call (from the repository root; .seed carried): sm80's float32
# backward with an additive mask's tiles in shared memory at D <= 64 (bwd_f32.cuh BIAS_TILES), on top of call 3's
# block map and call 2's 16-bit bias tiles. One default build of every head dim (-Werror), then, each step bounded by
# the deadline DL (seconds from the start, default 480):
#   1. the GPU suites the changes reach (masks, block map, float32 backward, NaN, modes, attention, Python);
#   2. compute-sanitizer memcheck and racecheck on test_gpu_masks 48 (bf16 D = 128: the 16-bit bias tiles) and 53
#      (float32 D = 64: the float32 backward's tiles);
#   3. bench_lanes.py float32 D = 64 N = 4096 bias lane with JFA_SM80_BIAS_TILES=0 / 1, then against the package.
# Logs in $OUT.   bash bench/device/run_s17d_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s17d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-480}
B=build-s17d
jfa_h200_build $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 190) ctest -L gpu -j8 --timeout 200 --output-on-failure \
  -R "masks|blockmask|f32_backward|nan|modes|attention|python_gpu") > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30
grep '^\[FAIL\]' "$OUT/ctest.log" | head -10; echo "t=$(( $(date +%s) - T0 ))"
for c in 48 53; do
  JFA_SAN_TAIL=2 jfa_sanitize memcheck $(left 150) test_gpu_masks $c
  echo "== racecheck test_gpu_masks $c"
  timeout $(left 130) compute-sanitizer --tool racecheck --racecheck-report hazard --print-limit 6 \
    $B/tests/gpu/test_gpu_masks $c > "$OUT/race_$c.log" 2>&1
  echo "rc=$?"; grep -E "^case|passed, |hazard|SUMMARY" "$OUT/race_$c.log" | cut -c1-200 | head -8
done 2>&1 | tee "$OUT/san.log"
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 60) env JFA_SM80_BIAS_TILES=0 python3 bench/bench_lanes.py --iters 5 --f32-precision highest,high \
  --lanes float32:64:4096:bias 2>&1 | grep "| jfa" | sed "s/^/tiles=0 /" | tee "$OUT/lanes_ab.log"
timeout $(left 0) python3 bench/bench_lanes.py --iters 5 --triton-path .seed --f32-precision highest,high \
  --lanes float32:64:4096:bias 2>&1 | tee "$OUT/lanes_mask.log"
echo "t=$(( $(date +%s) - T0 ))"
