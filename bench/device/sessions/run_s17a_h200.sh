#!/bin/bash
# run_s17a_h200.sh - the first call after the sixteenth session (from the repository root; .seed carried): what that
# session wrote after its last GPU call. One default build of every head dim (-Werror; ~50 s), then, each step bounded
# by the deadline DL (seconds from the start, default 540):
#   1. the GPU suite (`ctest -L gpu -E 64bit`), test_gpu_masks with its float32 dK / dV bound (3e-5 sqrt(Nq / 1000))
#      and the entries of the sm90 float32 backward with a boolean dense mask (bwd_f32.cuh DM, off by default:
#      test_gpu_masks_f32bwd_dense, test_gpu_f32_backward_f32bwd_dense) among them;
#   2. compute-sanitizer memcheck and synccheck on test_gpu_masks 27 (float32 D = 64, a boolean mask) with
#      JFA_SM90_F32_BWD_DENSE=1 (the backward on bwd_f32.cuh DM);
#   3. bench_lanes.py float32 D = 64 N = 4096: the dense mask's backward on sm80 (default) and sm90
#      (JFA_SM90_F32_BWD_DENSE=1), and the additive mask (bias lane) after sm80's float32 backward took one exponential
#      an element with its biases loaded before the products, against the Triton package; and bf16's additive mask
#      (never measured: sm80's 16-bit masked kernels take it).
# Logs in $OUT.   bash bench/device/run_s17a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s17a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-540}
B=build-s17a
jfa_h200_build $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 200) ctest -L gpu -j8 --timeout 240 --output-on-failure -E 64bit) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30
grep '^\[FAIL\]' "$OUT/ctest.log" | head -10; echo "t=$(( $(date +%s) - T0 ))"
export JFA_SM90_F32_BWD_DENSE=1
JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 170) test_gpu_masks 27 2>&1 | tee "$OUT/san.log"
JFA_SAN_TAIL=3 jfa_sanitize synccheck $(left 150) test_gpu_masks 27 2>&1 | tee -a "$OUT/san.log"
unset JFA_SM90_F32_BWD_DENSE
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
for dn in 0 1; do
  timeout $(left 90) env JFA_SM90_F32_BWD_DENSE=$dn python3 bench/bench_lanes.py --iters 5 --f32-precision highest,high \
    --lanes float32:64:4096:dense 2>&1 | grep "jfa" | sed "s/^/bwd_dense=$dn /"
done 2>&1 | tee "$OUT/lanes_dense_ab.log"
timeout $(left 0) python3 bench/bench_lanes.py --iters 5 --triton-path .seed --f32-precision highest,high \
  --lanes float32:64:4096:dense,float32:64:4096:bias,bfloat16:128:4096:bias 2>&1 | tee "$OUT/lanes_mask.log"
echo "t=$(( $(date +%s) - T0 ))"
