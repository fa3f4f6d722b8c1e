#!/bin/bash
# run_s16c_h200.sh - the sixteenth session's third call (from the repository root; .seed carried): float32 with a
# boolean dense mask, which call 2 measured below the Triton package (D = 64: 0.66 / 0.84 / 0.66x), after the change:
# the sm90 float32 forward / JVP take boolean dense masks (fwd_f32.cuh DM), sm80's float32 forward loads the mask
# words before its score products, sm80's float32 backward reads the mask's bits from shared memory (cp.async with the
# query block) instead of a byte per element from global memory. One default build of every head dim (-Werror), then,
# each step bounded by the deadline DL (seconds from the start, default 420):
#   1. ctest -L gpu of the suites the change touches (masks, blockmask, f32, f32_backward, nan; test_gpu_masks' new
#      float32 cases 27-30 check the families);
#   2. compute-sanitizer memcheck on test_gpu_masks 27;
#   3. bench_lanes.py: float32 dense (half the keys) D = 64 / 128, N = 4096, both precisions, against the Triton
#      package and SDPA; then D = 64 on sm80 alone (JFA_KERNEL_PATH=sm80: the forward's and backward's change there);
#   4. bench_lanes.py: float32 D = 64 N = 4096 with an additive mask (never measured), then float32 D = 64 / 128,
#      N = 4096 unmasked, both precisions (issue 17's lanes again);
#   5. the rest of the GPU suite in the time left.
# Logs in $OUT.   bash bench/device/run_s16c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s16c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-420}
B=build-s16c
jfa_h200_build $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
K="test_gpu_masks|test_gpu_f32|test_gpu_blockmask|test_gpu_nan"
(cd $B && timeout $(left 200) ctest -L gpu -j8 --timeout 200 --output-on-failure -R "$K") > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30
grep -E '^\[FAIL\]|FAIL ' "$OUT/ctest.log" | head -10; echo "t=$(( $(date +%s) - T0 ))"
JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 150) test_gpu_masks 27 2>&1 | tee "$OUT/san.log"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 95) python3 bench/bench_lanes.py --iters 5 --triton-path .seed --f32-precision highest,high \
  --lanes float32:64:4096:dense,float32:128:4096:dense 2>&1 | tee "$OUT/lanes_dense.log"
timeout $(left 75) env JFA_KERNEL_PATH=sm80 python3 bench/bench_lanes.py --iters 5 --f32-precision highest \
  --lanes float32:64:4096:dense 2>&1 | tee "$OUT/lanes_dense_sm80.log"
timeout $(left 75) python3 bench/bench_lanes.py --iters 5 --triton-path .seed --f32-precision highest \
  --lanes float32:64:4096:bias 2>&1 | tee "$OUT/lanes_bias.log"
timeout $(left 60) python3 bench/bench_lanes.py --iters 5 --triton-path .seed --f32-precision highest,high \
  --lanes float32:64:4096:none,float32:128:4096:none 2>&1 | tee "$OUT/lanes_f32.log"
(cd $B && timeout $(left 0) ctest -L gpu -j8 --timeout 200 --output-on-failure -E "64bit|$K") > "$OUT/ctest_rest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest_rest.log" | head -30
echo "t=$(( $(date +%s) - T0 ))"
