#!/bin/bash
# run_s20d_h200.sh - the twentieth session's A / B of the persistent JVP (call s20c's lanes were within the run's
# noise): one default build (-Werror), then bench_lanes.py alternating JFA_SM90_JVP_PERSIST=0 / 1 twice (fwd.cuh's
# kernel / the persistent one), plus a causal lane through the masked kernel (window16384 at N = 16384: every
# key of plain causal visible, on the interval-masked instantiation) to measure what the window lanes pay for the
# masked kernel. DL: the deadline (default 420). Logs in $OUT.   DL=420 bash bench/device/run_s20d_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s20d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-420}
B=build-s20d
JFA_H200_TARGETS="jfa" jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L="bfloat16:128:4096:none,bfloat16:128:4096:causal,bfloat16:128:16384:causal,bfloat16:128:16384:window2048"
L="$L,bfloat16:128:16384:window16384,bfloat16:64:4096:none,bfloat16:64:16384:causal,bfloat16:64:16384:window2048"
for r in 1 2; do
  for pv in 0 1; do
    echo "== run $r JFA_SM90_JVP_PERSIST=$pv"
    JFA_SM90_JVP_PERSIST=$pv timeout $(left 3) python3 bench/bench_lanes.py --iters 7 --lanes $L 2>&1 | grep "jfa"
  done
done 2>&1 | tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
