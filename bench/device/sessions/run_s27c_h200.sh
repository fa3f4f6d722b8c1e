#!/bin/bash
# run_s27c_h200.sh - the twenty-seventh session's last call (from the repository root; .seed carried): one default
# build of every head dim (-Werror) at HEAD, then
#   1. the whole GPU suite (`ctest -L gpu -E 64bit`);
#   2. D = 128's packed bands on the persistent JVP (the new default) against fwd.cuh's (JFA_SM90_JVP_PERSIST=0);
#   3. issue 17's float32 lanes (D = 64 / 128, N = 2048 / 4096 / 8192; 3xTF32 and TF32) against the Triton package and
#      SDPA from one process (the last such table: the twenty-first session);
#   4. the training step (bench/train_step.py: MeanFlow through a 4-block transformer, bf16 and float32) against the
#      package, the math backend and the floor.
# DL: the deadline (default 590). Logs in $OUT.   DL=590 bash bench/device/run_s27c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s27c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-s27c
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
jfa_gpu_suite $B "$OUT/ctest.log" 290; echo "t=$(( $(date +%s) - T0 ))"
{
  for e in "JFA_SM90_JVP_PERSIST=0" "JFA_X=0" "JFA_SM90_JVP_PERSIST=0" "JFA_X=0"; do
    env $e timeout $(left 250) $JFA_BENCH --varlen 8 2048 128 | grep -e ^jvp | sed "s/^/[$e] /"
  done
} 2>&1 | tee "$OUT/ab.log"
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L="float32:64:2048:none,float32:128:2048:none,float32:64:4096:none,float32:128:4096:none"
L="$L,float32:64:8192:none,float32:128:8192:none"
timeout $(left 110) python3 bench/bench_lanes.py --iters 5 --lanes $L --triton-path .seed \
  --f32-precision highest,high > "$OUT/lanes17.log" 2>&1
grep -v Warning "$OUT/lanes17.log" | grep -v "^#   " | tail -40; echo "t=$(( $(date +%s) - T0 ))"
timeout $(left 5) python3 bench/train_step.py --device cuda --dtypes bfloat16,float32 --batch 4 --seq 2048 \
  --width 1024 --heads 8 --depth 4 --iters 3 --triton-path .seed --format md > "$OUT/train_step.log" 2>&1
grep -v Warning "$OUT/train_step.log" | tail -16; echo "t=$(( $(date +%s) - T0 ))"
