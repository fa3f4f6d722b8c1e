#!/bin/bash
# run_s24b_h200.sh - the twenty-fourth session's call 2 (from the repository root): one tuning build of every head dim
# (-Werror; its default routes are the default build's), then
#   0. test_gpu_sm90_variants (D = 256's row 0 at 80 keys a block now, 33 the BN = 64 row before, 25 bitwise 33);
#   1. the D = 256 forward's A / B in alternation (0, 33, 0, 33) at N = 4096 and 8192, causal once each;
#   2. the gap between jfa_bench and bench_lanes (call 1: 64 us a call outside the kernels in the D = 64 window lane,
#      none in its causal lane; D = 256 0.906 ms against 1.028): bench_lanes on four lanes in bhsd at batch 1 (with
#      --profile) and 8, and in bshd at batch 1;
#   3. the GPU suite (of the tuning build) in the time left.
# DL: the deadline (default 570). Logs in $OUT.   DL=570 bash bench/device/run_s24b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s24b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-570}
B=build-s24b
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_TUNING=ON
(cd $B && timeout $(left 400) ctest -R "^test_gpu_sm90_variants$" --timeout 240 --output-on-failure) > "$OUT/ctest_var.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Passed" "$OUT/ctest_var.log" | head -5; grep '^\[FAIL\]' "$OUT/ctest_var.log" | head
for v in 0 33 0 33; do
  echo "== D = 256 (B = 4, H = 8) N = 4096 and 8192, JFA_TUNE_SM90A=$v"
  JFA_TUNE_SM90A=$v jfa_bench_rows --case 4096 256 0 | grep ^fwd
  JFA_TUNE_SM90A=$v jfa_bench_rows --case 8192 256 0 | grep ^fwd
done 2>&1 | tee "$OUT/d256.log"
for v in 0 33; do JFA_TUNE_SM90A=$v jfa_bench_rows --case 4096 256 1 | grep ^fwd; done 2>&1 | tee -a "$OUT/d256.log"
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L="bfloat16:256:4096:none,bfloat16:64:16384:window2048,bfloat16:64:16384:causal,bfloat16:128:4096:none"
for run in "bhsd 1 --profile" "bhsd 8" "bshd 1"; do
  set -- $run
  timeout $(left 240) python3 bench/bench_lanes.py --iters 9 --lanes $L --layout $1 --batch $2 ${3:-} \
    > "$OUT/lanes_$1_b$2.log" 2>&1
  grep -v Warning "$OUT/lanes_$1_b$2.log" | grep -E "^\||# profile|layout" | grep -v "^|---\|^| dtype"
  echo "t=$(( $(date +%s) - T0 ))"
done
jfa_gpu_suite $B "$OUT/ctest.log" 3; echo "t=$(( $(date +%s) - T0 ))"
