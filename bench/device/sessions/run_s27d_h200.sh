#!/bin/bash
# run_s27d_h200.sh - the twenty-seventh session's fourth call (from the repository root; ~240 s of device time left):
# libjfa alone (default build of every head dim, -Werror), then test_python_gpu, which call 3's suite deadline cut.
# DL: the deadline (default 140). Logs in $OUT.   DL=140 bash bench/device/run_s27d_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s27d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-140}
B=build-s27d
JFA_H200_TARGETS="jfa" jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
(cd $B && timeout $(left 2) ctest -R "^test_python_gpu$" --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Passed" "$OUT/ctest.log" | head -5; tail -5 "$OUT/ctest.log"
echo "t=$(( $(date +%s) - T0 ))"
