#!/bin/bash
# run_s26b_h200.sh - the twenty-sixth session's second call (from the repository root; .seed carried): one default
# build of every head dim (-Werror), then
#   1. test_gpu_fwd_cskip (new: variant 34's consumer skip against the kernel without it, bitwise, and against
#      float64), memcheck of its cases 0 (plain causal, unmasked instantiation) and 8 (a window, MASKED), racecheck of
#      case 3 (7 x 129, MQA);
#   2. A / B in alternation, jfa_bench, D = 64: JFA_SM90_FWD_CSKIP=0 against the default (the skip) on causal B x N =
#      16 x 1024, 8 x 2048, 4 x 4096 and the causal window of 2048 at N = 16384; then at 2 x 8192 and 1 x 16384 the
#      default route (non-persistent three consumers) against JFA_SM90_FWD_NC3P=1 (persistent) with and without the
#      skip, and unmasked N = 4096 (B = 1, 32 heads) default against NC3P=1 (its last tile's 64 rows: two idle
#      warpgroups skip);
#   3. the whole GPU suite (`ctest -L gpu -E 64bit`, with the new entries).
# DL: the deadline (default 570). Logs in $OUT.   DL=570 bash bench/device/run_s26b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s26b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-570}
B=build-s26b
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
LIMIT=$(left 400) jfa_run $B/tests/gpu/test_gpu_fwd_cskip > "$OUT/cskip.log" 2>&1
grep -E "^\[FAIL\]|passed|failed|rc=" "$OUT/cskip.log" | tail -8
{
  jfa_sanitize memcheck $(left 380) test_gpu_fwd_cskip 0
  jfa_sanitize memcheck $(left 370) test_gpu_fwd_cskip 8
  jfa_sanitize racecheck $(left 360) test_gpu_fwd_cskip 3
} 2>&1 | tee "$OUT/sanitize.log"
echo "t=$(( $(date +%s) - T0 ))"
{
  for r in 1 2; do
    for e in "JFA_SM90_FWD_CSKIP=0" "JFA_X=0"; do
      for s in "16 1024" "8 2048" "4 4096"; do
        env $e timeout $(left 300) $JFA_BENCH --causal $s 64 | grep -e ^fwd | sed "s/^/[$e] /"
      done
      env $e timeout $(left 300) $JFA_BENCH --window 16384 64 2048 | grep -e ^fwd | sed "s/^/[$e] /"
    done
  done
  for r in 1 2; do
    for e in "JFA_X=0" "JFA_SM90_FWD_NC3P=1 JFA_SM90_FWD_CSKIP=0" "JFA_SM90_FWD_NC3P=1"; do
      for s in "2 8192" "1 16384"; do
        env $e timeout $(left 280) $JFA_BENCH --causal $s 64 | grep -e ^fwd | sed "s/^/[$e] /"
      done
      env $e timeout $(left 280) $JFA_BENCH --nomask 4096 64 | grep -e ^fwd | sed "s/^/[$e] /"
    done
  done
} 2>&1 | tee "$OUT/ab.log"
echo "t=$(( $(date +%s) - T0 ))"
jfa_gpu_suite $B "$OUT/ctest.log" 5
echo "t=$(( $(date +%s) - T0 ))"
