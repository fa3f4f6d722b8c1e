#!/bin/bash
# run_s18b_h200.sh - the eighteenth session's second call (from the repository root; .seed carried): 16-bit additive
# masks on the sm90 forward / JVP (bias tiles staged by producer warp 1, fwd.cuh; the softmax's bias pass) and the
# float32 backward's cheaper mask (sm80 bwd_f32.cuh: no per-element test where the block needs none, biases through
# mask_bias_cols). One default build of every head dim (-Werror), then, each step bounded by the deadline DL
# (default 560): `ctest -L gpu -E 64bit` (-j8), compute-sanitizer memcheck on test_gpu_masks 48 (bf16 D = 128, sm90
# bias tiles) and racecheck on 50 (D = 64), the bias lanes against the package and SDPA.
# Logs in $OUT.   bash bench/device/run_s18b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s18b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-560}
B=build-s18b
jfa_h200_build $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 150) ctest -L gpu -j8 --timeout 240 --output-on-failure -E 64bit) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30
grep '^\[FAIL\]' "$OUT/ctest.log" | head -20; echo "t=$(( $(date +%s) - T0 ))"
{
  JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 120) test_gpu_masks 48
  JFA_SAN_TAIL=3 jfa_sanitize racecheck $(left 100) test_gpu_masks 50
} 2>&1 | tee "$OUT/san.log"
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 0) python3 bench/bench_lanes.py --iters 5 --triton-path .seed --f32-precision highest \
  --lanes bfloat16:128:4096:bias,bfloat16:64:4096:bias,float32:64:4096:bias,bfloat16:128:4096:dense 2>&1 |
  tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
