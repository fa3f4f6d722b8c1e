#!/bin/bash
# run_s36c_h200.sh - the varlen Config cache's A / B (c506d1e; from the repository root): a D = 128 build of libjfa,
# then bench_ratio's packed-sequence pair against plain causal (D = 128, N = 16384, each call alone) with the cache
# off and on, twice each in turn (plain causal, timed in the same rounds, is the clock's reference).
#   DL=80 bash bench/device/run_s36c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s36c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-80}
JFA_H200_TARGETS="jfa" jfa_build_step build-s36c "$OUT/build.log" -DJFA_BUILD_TESTS=OFF -DJFA_HEAD_DIMS=128
export PYTHONPATH=python JFA_LIBRARY=build-s36c/libjfa.so
P=jfa:bfloat16:128:16384:packed2048/jfa:bfloat16:128:16384:causal@0.85
for c in 0 1 0 1; do
  timeout $(left 3) python3 bench/bench_ratio.py --rounds 3 --iters 5 --varlen-cache $c --pairs $P 2>&1 | tail -1 |
    sed "s/^/cache $c /"
done
echo "t=$(( $(date +%s) - T0 ))"
