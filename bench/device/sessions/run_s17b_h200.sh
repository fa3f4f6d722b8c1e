#!/bin/bash
# run_s17b_h200.sh - the seventeenth session's second call (from the repository root; .seed carried): the sm80 16-bit
# kernels with an additive mask's tiles in shared memory (common/mask.cuh mask_bias_tile_async; tiles.h
# kSm80BiasTiles, JFA_SM80_BIAS_TILES) and the backward's one exponential an element, and the sm90 float32 backward
# with a boolean dense mask on by default (tiles.h kSm90BwdF32Dense). One default build of every head dim
# (-Werror; ~45 s), then, each step bounded by the deadline DL (seconds from the start, default 540):
#   1. the GPU suite (`ctest -L gpu -E 64bit`): test_gpu_masks' new aligned-bias cases 48-52 on the tiles, and
#      test_gpu_masks_nobiastiles on global memory;
#   2. compute-sanitizer memcheck, racecheck and synccheck on test_gpu_masks 41 (bf16 D = 128, bias tiles in the
#      forward, JVP and backward) and memcheck on 42 (fp16 D = 64, float32 biases, broadcast head axis);
#   3. bench_lanes.py additive masks (bias lane), jfa with JFA_SM80_BIAS_TILES=0 / 1: bf16 D = 128 and 64, fp16
#      D = 128, N = 4096; then the same lanes against the Triton package and SDPA, and float32 D = 64 dense (the
#      new default backward) against the package.
# Logs in $OUT.   bash bench/device/run_s17b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s17b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-540}
B=build-s17b
jfa_h200_build $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 230) ctest -L gpu -j8 --timeout 240 --output-on-failure -E 64bit) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30
grep '^\[FAIL\]' "$OUT/ctest.log" | head -10; echo "t=$(( $(date +%s) - T0 ))"
JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 200) test_gpu_masks 41 2>&1 | tee "$OUT/san.log"
JFA_SAN_TAIL=3 jfa_sanitize racecheck $(left 170) test_gpu_masks 41 2>&1 | tee -a "$OUT/san.log"
JFA_SAN_TAIL=3 jfa_sanitize synccheck $(left 150) test_gpu_masks 41 2>&1 | tee -a "$OUT/san.log"
JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 140) test_gpu_masks 42 2>&1 | tee -a "$OUT/san.log"
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
for bt in 0 1; do
  timeout $(left 70) env JFA_SM80_BIAS_TILES=$bt python3 bench/bench_lanes.py --iters 5 \
    --lanes bfloat16:128:4096:bias,bfloat16:64:4096:bias,float16:128:4096:bias 2>&1 | grep "| jfa" | sed "s/^/tiles=$bt /"
done 2>&1 | tee "$OUT/lanes_bias_ab.log"
timeout $(left 0) python3 bench/bench_lanes.py --iters 5 --triton-path .seed --f32-precision highest,high \
  --lanes bfloat16:128:4096:bias,bfloat16:64:4096:bias,float32:64:4096:dense 2>&1 | tee "$OUT/lanes_mask.log"
echo "t=$(( $(date +%s) - T0 ))"
