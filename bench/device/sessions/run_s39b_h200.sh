#!/bin/bash
# run_s39b_h200.sh - thirty-ninth session (from the repository root): the default build of head dim 192 after the
# D = 192 JVP's row 0 took MPASS (tuning variant 12's kernel, bitwise 7's; tested and timed in call 2): the GPU
# entries that run the D = 192 JVP (test_gpu_masks without its B = 66000 cases: JFA_TEST_MASKS_SKIP_BIG=1), then the
# default's JVP TFLOP/s at D = 192 (and 128 beside: not built here, so its row says so) in two rounds.
#   DL=420 bash bench/device/sessions/run_s39b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s39b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-420}
B=build-d192
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON "-DJFA_HEAD_DIMS=192"
(cd $B && JFA_TEST_MASKS_SKIP_BIG=1 timeout $(left 60) ctest -L gpu -j8 --timeout 300 --output-on-failure \
  -R '^test_gpu_(attention|modes|tangent|masks|nan|scale|streams|masks_fwdband|masks_nofwdband|jvp_persist_fwdband)$') \
  > "$OUT/suite.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/suite.log" | head -30
grep '^\[FAIL\]' "$OUT/suite.log" | head -20
echo "t=$(( $(date +%s) - T0 ))"
export JFA_BENCH_ITERS=${JFA_BENCH_ITERS:-30}
for r in 1 2; do
  for c in 0 1; do timeout 60 $B/bench/jfa_bench --case 4096 192 $c | grep -E "^jvp" | sed "s/^/r$r /"; done
done 2>&1 | tee "$OUT/bench.log"
echo "t=$(( $(date +%s) - T0 ))"
