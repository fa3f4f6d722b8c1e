#!/bin/bash
# run_d96b_h200.sh - the D = 96 JVP's new row 0 (P V over 64 + 32 columns) on one H200, in a short call (from the
# repository root): a tuning build of D = 96 alone, then test_gpu_sm90_jvp_variants (7 and 6, the padded rows, bitwise
# row 0), test_gpu_sm90_variants (its D = 96 cases) and the default suites with D = 96 cases (test_gpu_tangent,
# _masks; the head dims left out run on simt). Logs in $OUT.   bash bench/device/run_d96b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_d96b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-d96b
JFA_H200_TARGETS="jfa test_gpu_sm90_variants test_gpu_sm90_jvp_variants test_gpu_tangent test_gpu_masks" \
  jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_HEAD_DIMS="96" -DJFA_WARNINGS_AS_ERRORS=ON ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(( 95 - ($(date +%s) - T0) )) ctest -R "^test_gpu_(sm90_jvp_variants|sm90_variants|tangent|masks)$" -j4 \
  --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|\*\*\*|Not Run|FAIL|Passed" "$OUT/ctest.log" | head -12; echo "t=$(( $(date +%s) - T0 ))"
