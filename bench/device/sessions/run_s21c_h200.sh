#!/bin/bash
# run_s21c_h200.sh - the twenty-first session's last call (from the repository root): one default build of every head
# dim (-Werror) at HEAD, then
#   1. the whole GPU suite (ctest -L gpu -E 64bit; its new entries: test_gpu_{masks,jvp_persist}_{fwdband,nofwdband},
#      the route checks);
#   2. issue 18's lanes from one process against the Triton package (.seed, carried) and SDPA: D = 64 / 96 / 128 /
#      192 / 256 at N = 4096, the random half mask at D = 128, causal windows of 2048 against plain causal at N = 16384
#      (D = 64, 128);
#   3. issue 17's float32 lanes (D = 64 / 128, N = 2048 / 4096 / 8192; 3xTF32 and TF32) against the package and SDPA;
#   4. the training step (bench/train_step.py: MeanFlow through a 4-block transformer, bf16 and float32) against the
#      package, the math backend and the floor.
# DL: the deadline (default 580). Logs in $OUT.   DL=580 bash bench/device/run_s21c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s21c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-580}
B=build-s21c
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
jfa_gpu_suite $B "$OUT/ctest.log" 330; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L="bfloat16:64:4096:none,bfloat16:96:4096:none,bfloat16:128:4096:none,bfloat16:192:4096:none,bfloat16:256:4096:none"
L="$L,bfloat16:128:4096:dense,bfloat16:128:16384:causal,bfloat16:128:16384:window2048"
L="$L,bfloat16:64:16384:causal,bfloat16:64:16384:window2048"
timeout $(left 230) python3 bench/bench_lanes.py --iters 7 --lanes $L --triton-path .seed > "$OUT/lanes18.log" 2>&1
grep -v Warning "$OUT/lanes18.log" | tail -45; echo "t=$(( $(date +%s) - T0 ))"
L="float32:64:2048:none,float32:128:2048:none,float32:64:4096:none,float32:128:4096:none"
L="$L,float32:64:8192:none,float32:128:8192:none"
timeout $(left 110) python3 bench/bench_lanes.py --iters 5 --lanes $L --triton-path .seed \
  --f32-precision highest,high > "$OUT/lanes17.log" 2>&1
grep -v Warning "$OUT/lanes17.log" | tail -40; echo "t=$(( $(date +%s) - T0 ))"
timeout $(left 5) python3 bench/train_step.py --device cuda --dtypes bfloat16,float32 --batch 4 --seq 2048 \
  --width 1024 --heads 8 --depth 4 --iters 3 --triton-path .seed --format md > "$OUT/train_step.log" 2>&1
grep -v Warning "$OUT/train_step.log" | tail -16; echo "t=$(( $(date +%s) - T0 ))"
