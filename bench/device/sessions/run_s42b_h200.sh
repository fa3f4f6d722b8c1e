#!/bin/bash
# run_s42b_h200.sh - the forty-second session's second call (from the repository root): the seven
# test_gpu_f32_backward entries that failed in run_s42a, each in its dq-layouts case's accumulate layout only, once
# the case's params come from jfa_attention_params_init (a zeroed struct read as jfa 0.1's layout: the reference and
# the two plain layouts ran without the causal mask, the accumulate layout's block problem with it); a build of the
# library and that test only. Then test_gpu_masks case 79 (run_s35c_h200.sh, N runs a routing) in the time left.
#   DL=420 bash bench/device/sessions/run_s42b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s42b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-420}
B=build-suite
JFA_H200_TARGETS="jfa test_gpu_f32_backward" jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
(cd $B && timeout $(left 60) ctest -L gpu -j8 --timeout 300 --output-on-failure -R '^test_gpu_f32_backward') \
  > "$OUT/f32_backward.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/f32_backward.log" | head -20
grep '^\[FAIL\]' "$OUT/f32_backward.log" | sort | uniq -c | sort -rn | head -20
grep -c '^\[PASS\] case dq-layouts' "$OUT/f32_backward.log"
echo "t=$(( $(date +%s) - T0 ))"
L=$(left 5)
[ "$L" -gt 90 ] && OUT=$OUT/s35c N=${N:-8} DL=$L bash bench/device/run_s35c_h200.sh
echo "t=$(( $(date +%s) - T0 ))"
