#!/bin/bash
# run_s20a_h200.sh - the twentieth session's first call (from the repository root): HEAD's whole GPU suite in a tuning
# build of every head dim (-Werror): ctest -L gpu without the 64-bit, numbered-tuning, variants, noband and nompass
# entries (the default suite plus the tuning builds' other entries), then test_gpu_sm90_variants (variant 30 bitwise)
# and the persistent forward's entries (_tune8 / _tune9: masks, modes, nan; 16-bit biases on rows without MPASS).
# DL: the deadline (default 570). Logs in $OUT.   DL=570 bash bench/device/run_s20a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s20a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-570}
B=build-s20a
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_TUNING=ON
(cd $B && timeout $(left 150) ctest -L gpu -E "64bit|_tune[0-9]|variants|_noband|_nompass" -j8 --timeout 240 \
  --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30; grep '^\[FAIL\]' "$OUT/ctest.log" | head
echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 3) ctest -R "sm90_variants|_(masks|modes|nan)_tune[89]$" -j8 --timeout 240 \
  --output-on-failure) > "$OUT/ctest_tune.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run|Passed|Timeout" "$OUT/ctest_tune.log" | head -30
grep '^\[FAIL\]' "$OUT/ctest_tune.log" | head
echo "t=$(( $(date +%s) - T0 ))"
