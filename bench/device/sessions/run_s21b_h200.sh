#!/bin/bash
# run_s21b_h200.sh - the twenty-first session's band on the forward / JVP's unmasked kernels (fwd.cuh sm90_fwd_band):
# one default build of every head dim (-Werror), the suites that run windows (the masks' with its _nofwdband entry on
# the MASKED kernels, the persistent JVP's, NaN, modes, attention), then bench_lanes.py alternating
# JFA_SM90_FWD_BAND=0 / 1 twice on causal windows of 2048 at N = 16384 (D = 64, 96, 128) and 8192 (D = 256), with
# plain causal beside them (the band does not touch it: the run's noise). DL: the deadline (default 330). Logs in
# $OUT.   DL=330 bash bench/device/run_s21b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s21b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-330}
B=build-s21b
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
(cd $B && timeout $(left 150) ctest -j8 --timeout 240 --output-on-failure -E 64bit \
  -R "test_gpu_(masks|jvp_persist|nan|modes|attention)") > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30
grep '^\[FAIL\]' "$OUT/ctest.log" | head -20
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L="bfloat16:128:16384:window2048,bfloat16:128:16384:causal,bfloat16:64:16384:window2048,bfloat16:64:16384:causal"
L="$L,bfloat16:96:16384:window2048,bfloat16:256:8192:window2048,bfloat16:256:8192:causal"
for r in 1 2; do
  for bv in 0 1; do
    echo "== run $r JFA_SM90_FWD_BAND=$bv"
    JFA_SM90_FWD_BAND=$bv timeout $(left 3) python3 bench/bench_lanes.py --iters 7 --lanes $L 2>&1 | grep "jfa"
  done
done 2>&1 | tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
