#!/bin/bash
# run_s19b_h200.sh - the nineteenth session's second call (from the repository root; .seed carried): the sm90 backward
# takes 16-bit additive masks at D = 64 / 128 (bwd.cuh: producer warp 2 + c brings consumer c's partial 64 x 64 bias
# tile by TMA, the consumer adds it to S^T by ldmatrix .trans; tiles.h kSm90BwdBias). One default build (-Werror), the
# whole GPU suite, the bias / dense lanes against the package and SDPA, memcheck / racecheck / synccheck on
# test_gpu_masks 48 (bf16 D = 128 bias, GQA, causal) and 56 (fp16 D = 64 bias, head broadcast). DL: the deadline
# (seconds after the start, default 560). Logs in $OUT.   DL=560 bash bench/device/run_s19b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s19b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-560}
B=build-s19b
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
# the bias cases first, alone (a hang shows here, bounded)
{
  LIMIT=60 jfa_run $B/tests/gpu/test_gpu_masks 48 | tail -4
  LIMIT=60 jfa_run $B/tests/gpu/test_gpu_masks 56 | tail -3
  LIMIT=60 jfa_run $B/tests/gpu/test_gpu_masks 57 | tail -3
} 2>&1 | tee "$OUT/first.log"
echo "t=$(( $(date +%s) - T0 ))"
jfa_gpu_suite $B "$OUT/ctest.log" 150; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 45) python3 bench/bench_lanes.py --iters 5 --triton-path .seed --f32-precision highest \
  --lanes bfloat16:128:4096:bias,float16:128:4096:bias,bfloat16:64:4096:bias,bfloat16:128:4096:dense,bfloat16:64:4096:dense 2>&1 |
  tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
{
  JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 30) test_gpu_masks 48
  JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 20) test_gpu_masks 56
  JFA_SAN_TAIL=4 jfa_sanitize racecheck $(left 10) test_gpu_masks 56
  JFA_SAN_TAIL=3 jfa_sanitize synccheck $(left 0) test_gpu_masks 48
} 2>&1 | tee "$OUT/san.log"
echo "t=$(( $(date +%s) - T0 ))"
