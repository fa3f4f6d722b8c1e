#!/bin/bash
# run_s13a_h200.sh - the thirteenth session's first H200 call (from the repository root; .seed carried): a default
# build of every head dim (jfa, jfa_bench, test_gpu_sm90_bwd), then
#   1. compute-sanitizer memcheck / racecheck / synccheck on the D = 64 backward at 128 query rows a stage (the
#      default since the twelfth session; test_gpu_sm90_bwd cases 0: 2 x 4 heads 64 x 64, 1: N = 1, 13: 1000 x 1000);
#   2. issue 19's table against cuDNN and flash (bench/compare_torch.py, N >= 4096, no math-backend JVP);
#   3. the lanes against the Triton package and SDPA (bench/bench_lanes.py): issues 17 / 18's tables and the sweep of
#      the package's configurations (dtype, head dim, causal, N) where jfa must not be slower.
# Logs in $OUT.   bash bench/device/run_s13a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s13a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-s13a
JFA_H200_TARGETS="jfa jfa_bench test_gpu_sm90_bwd" jfa_h200_build $B "$OUT/build.log" ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
{
  for c in 0 1 13; do jfa_sanitize memcheck 60 test_gpu_sm90_bwd $c; done
  jfa_sanitize racecheck 90 test_gpu_sm90_bwd 0
  jfa_sanitize synccheck 60 test_gpu_sm90_bwd 0
  echo "t=$(( $(date +%s) - T0 ))"
} 2>&1 | tee "$OUT/san.log"
(cd bench && timeout 150 python3 compare_torch.py ../$B/bench/jfa_bench --iters 10 --min-n 4096 --no-math \
  > "$OUT/compare.log" 2>&1)
cat "$OUT/compare.log"; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L=$(( 585 - ($(date +%s) - T0) ))
LANES=bfloat16:128:4096:dense,bfloat16:128:16384:window2048,bfloat16:128:16384:causal
LANES=$LANES,float32:64:4096:none,float32:64:4096:causal,float32:64:1024:none,float32:128:4096:none
LANES=$LANES,float32:128:4096:causal,float32:32:4096:none,float32:32:1024:causal,float32:128:1024:none
LANES=$LANES,bfloat16:64:1024:none,bfloat16:64:1024:causal,bfloat16:64:4096:causal,bfloat16:128:1024:causal
LANES=$LANES,bfloat16:128:4096:causal,bfloat16:32:4096:causal,bfloat16:256:4096:causal,float16:128:4096:causal
LANES=$LANES,float16:64:1024:none,float32:256:2048:causal
timeout $L python3 bench/bench_lanes.py --iters 8 --f32-precision highest --triton-path .seed --lanes $LANES \
  2>&1 | tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
