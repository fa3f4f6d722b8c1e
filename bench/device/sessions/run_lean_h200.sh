#!/bin/bash
# run_lean_h200.sh - LEAN (common/softmax.cuh: O / U rescaled only where a row of the warp needs it, the JVP's Sd
# scale folded into one FFMA; sm90 fwd.cuh fwd_rescale_pack likewise) against the tree before it, on one H200 (from
# the repository root; .old holds that tree: `git archive <rev> | tar -x -C .old`, carried). A default build of this
# tree (with its tests) and of .old's libjfa side by side, then
#   1. the default GPU suite on this tree (ctest -L gpu);
#   2. timing, new / old / new in separate processes (bench/bench_variants.py, default kernels): the forward and JVP
#      at D = 64 / 128 (N = 4096, causal 16384), D = 96 and 256, the float32 JVP at D = 64.
# Logs in $OUT.   bash bench/device/run_lean_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_lean}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-lean
(cd .old && JFA_H200_TARGETS=jfa jfa_h200_build build-old "$OUT/build_old.log" -DJFA_BUILD_TESTS=OFF) &
jfa_h200_build $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON ||
  jfa_build_failed "$OUT/build.log"
wait; grep BUILD_WALL "$OUT/build.log" "$OUT/build_old.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 200 ctest -L gpu -E "64bit" -j8 --timeout 190 --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|\*\*\*|Not Run" "$OUT/ctest.log" | head -20; grep "FAIL" "$OUT/ctest.log" | head; echo "t=$(( $(date +%s) - T0 ))"
R="--rows fwd:4096:64:0:0 --rows fwd:16384:64:1:0 --rows fwd:4096:128:0:0 --rows fwd:16384:128:1:0 \
 --rows jvp:4096:64:0:0 --rows jvp:16384:64:1:0 --rows jvp:4096:128:0:0 --rows jvp:16384:128:1:0 \
 --rows jvp:4096:96:0:0 --rows fwd:4096:96:0:0 --rows fwd:4096:256:0:0"
for w in new old new; do
  if [ $w = new ]; then L=$B/libjfa.so P=python; else L=.old/build-old/libjfa.so P=.old/python; fi
  echo "== $w"
  PYTHONPATH=$P JFA_LIBRARY=$L timeout 60 python3 bench/bench_variants.py --iters 15 $R 2>&1 | grep -v "^torch"
  PYTHONPATH=$P JFA_LIBRARY=$L timeout 30 python3 bench/bench_variants.py --iters 10 --dtype float32 --rows jvp:4096:64:0:0 2>&1 | grep -v "^torch"
done | tee "$OUT/bench.log"
echo "t=$(( $(date +%s) - T0 ))"
