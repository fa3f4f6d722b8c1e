#!/bin/bash
# run_s18c_h200.sh - the eighteenth session's third call (from the repository root; .seed carried): the sm90 forward /
# JVP's 16-bit bias tiles by TMA (boxes of 64 keys x the CTA's rows, 128-byte swizzle; issued by producer warp 1,
# which classes the blocks; warp 1's cp.async before, run_s18b: D = 64 forward 116.8 TFLOP/s). One default build of
# every head dim (-Werror), then, bounded by the deadline DL (default 280: this session's last device seconds): `ctest -L gpu -E 64bit` (-j8),
# compute-sanitizer memcheck on test_gpu_masks 48 (bf16 D = 128) and racecheck on 50 (D = 64), the bias and dense
# lanes against the package and SDPA. Logs in $OUT.   bash bench/device/run_s18c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s18c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-280}
B=build-s18c
jfa_h200_build $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 45) ctest -L gpu -j8 --timeout 240 --output-on-failure -E 64bit) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30
grep '^\[FAIL\]' "$OUT/ctest.log" | head -20; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 28) python3 bench/bench_lanes.py --iters 5 --triton-path .seed --f32-precision highest \
  --lanes bfloat16:128:4096:bias,bfloat16:64:4096:bias,bfloat16:128:4096:dense 2>&1 |
  tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
{
  JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 10) test_gpu_masks 48
  JFA_SAN_TAIL=12 jfa_sanitize racecheck $(left 0) test_gpu_masks 50
} 2>&1 | tee "$OUT/san.log"
echo "t=$(( $(date +%s) - T0 ))"
