#!/bin/bash
# run_next_h200.sh - what the tenth session left compiled and not run, on one H200 (from the repository root):
# a tuning build of D = 64 / 96 / 128 / 160, then
#   1. the tests: test_gpu_sm90_jvp_variants (the D = 64 JVP at 128 keys a block, variants 2 / 3, against float64),
#      test_gpu_*_sm80_mpass (sm80's MPASS variants 9 against float64);
#   2. timing in one process (bench/bench_variants.py; rel 0 = bitwise the first column): the D = 64 JVP 0 / 2 / 3;
#      sm80's forward and JVP without / with MPASS (D = 160, which runs sm80 by default on an H200, and in a process
#      of its own with JFA_KERNEL_PATH=sm80 at D = 64 / 128).
# Logs in $OUT.   bash bench/device/run_next_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_next}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-next
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_HEAD_DIMS="64;96;128;160" -DJFA_WARNINGS_AS_ERRORS=ON ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 200 ctest -R "sm90_jvp_variants|_sm80_mpass" -j6 --timeout 190 --output-on-failure) \
  > "$OUT/ctest.log" 2>&1
grep -E "tests passed|\*\*\*" "$OUT/ctest.log" | head; grep FAIL "$OUT/ctest.log" | head; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout 100 python3 bench/bench_variants.py --iters 10 --rows jvp:4096:64:0:0,2,3 --rows jvp:16384:64:1:0,2,3 \
  --rows fwd:4096:160:0:-,JFA_TUNE_FWD=9 --rows fwd:16384:160:1:-,JFA_TUNE_FWD=9 --rows jvp:4096:160:0:-,JFA_TUNE_JVP=9 \
  2>&1 | tee "$OUT/bench.log"
# the family cap is read when the context is made: the sm80 rows in a process of their own
JFA_KERNEL_PATH=sm80 timeout 100 python3 bench/bench_variants.py --iters 10 --rows fwd:4096:64:0:-,JFA_TUNE_FWD=9 \
  --rows fwd:16384:64:1:-,JFA_TUNE_FWD=9 --rows fwd:4096:128:0:-,JFA_TUNE_FWD=9 --rows jvp:4096:64:0:-,JFA_TUNE_JVP=9 \
  --rows jvp:4096:128:0:-,JFA_TUNE_JVP=9 2>&1 | tee -a "$OUT/bench.log"
echo "t=$(( $(date +%s) - T0 ))"
