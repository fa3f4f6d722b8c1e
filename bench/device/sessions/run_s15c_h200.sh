#!/bin/bash
# run_s15c_h200.sh - call 2's float32 backward again after the fix of its converters' first wait (fifteenth session:
# from a stage's second use the converters wait its full barrier with parity 1, which a barrier still in its phase 0
# passes at once; they now wait for the consumers' prologue first). From the repository root, .seed carried. A tuning
# build of head dims 64 / 128 (the float32 backward's tests and the library; -Werror), then, bounded by DL (seconds
# from the start, default 300):
#   1. test_gpu_f32_backward (default, _tune_old), test_gpu_attention, test_gpu_modes, test_gpu_nan (their "ran on
#      simt" checks fail for the head dims this build leaves out: counted apart);
#   2. bench_variants.py float32 D = 64: the default, JFA_TUNE_BWD_OLD=2 (this session's element-wise kernels only) and
#      the code before this session, alternating in one process;
#   3. bench_lanes.py: the float32 small-N lanes against the Triton package (3xTF32);
#   4. compute-sanitizer synccheck / memcheck on test_gpu_f32_backward 27 / 25.
# Logs in $OUT.   bash bench/device/run_s15c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s15c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-300}
left() { local x=$(( DL - ($(date +%s) - T0) - $1 )); [ $x -lt 1 ] && x=1; echo $x; }
B=build-s15c
JFA_H200_TARGETS="jfa test_gpu_f32_backward test_gpu_attention test_gpu_modes test_gpu_nan" \
  jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_HEAD_DIMS="64;128" || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 170) ctest -R "test_gpu_(f32_backward|f32_backward_tune_old|attention|modes|nan)$" -j8 --timeout 100 \
  --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run|passed, [0-9]+ failed" "$OUT/ctest.log" | head -20
echo "FAIL lines other than ran-on: $(grep '^\[FAIL\]' "$OUT/ctest.log" | grep -vc ' ran on ')"
grep '^\[FAIL\]' "$OUT/ctest.log" | grep -v ' ran on ' | head -10; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
OLD=JFA_TUNE_BWD_OLD=2+JFA_TUNE_EW_OLD=1+JFA_TUNE_SM90_F32_BWD_EPI=0
MID=JFA_TUNE_BWD_OLD=2
V=-,$MID,$OLD,-,$MID,$OLD
timeout $(left 75) python3 bench/bench_variants.py --iters 8 --dtype float32 \
  --rows bwd:512:64:1:$V --rows bwd:256:64:1:$V --rows bwd:512:64:0:$V --rows bwd:4096:64:0:-,$OLD 2>&1 | tee "$OUT/variants_f32.log"
echo "t=$(( $(date +%s) - T0 ))"
timeout $(left 25) python3 bench/bench_lanes.py --iters 8 --triton-path .seed --f32-precision highest \
  --lanes float32:64:512:causal,float32:64:256:causal,float32:64:512:none,float32:128:512:causal 2>&1 | tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
{
  jfa_sanitize synccheck $(left 12) test_gpu_f32_backward 27
  jfa_sanitize memcheck $(left 0) test_gpu_f32_backward 25
} 2>&1 | tee "$OUT/san.log"
echo "t=$(( $(date +%s) - T0 ))"
