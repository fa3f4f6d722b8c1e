#!/bin/bash
# run_s39c_h200.sh - thirty-ninth session (from the repository root): the head-dim subset fixes of test_gpu_modes and
# test_gpu_masks (case 94) on the D = 192-only default build that failed them in call 3, the masks entries without the
# B = 66000 cases (JFA_TEST_MASKS_SKIP_BIG=1).
#   DL=300 bash bench/device/sessions/run_s39c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s39c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-300}
B=build-d192
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON "-DJFA_HEAD_DIMS=192"
(cd $B && JFA_TEST_MASKS_SKIP_BIG=1 timeout $(left 20) ctest -L gpu -j8 --timeout 250 --output-on-failure \
  -R '^test_gpu_(modes|modes_sm80|masks_fwdband|masks_nofwdband|masks_sm80)$') > "$OUT/suite.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/suite.log" | head -30
grep -E '^\[FAIL\]|65536 heads|case 94: a key' "$OUT/suite.log" | head -20
echo "t=$(( $(date +%s) - T0 ))"
