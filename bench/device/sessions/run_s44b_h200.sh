#!/bin/bash
# run_s44b_h200.sh - the whole GPU suite in one ctest (from the repository root): the build (build-suite, -Werror),
# then `ctest -L gpu -j8 -E 64bit` ordered heaviest first by the costs measured in the forty-fourth session's first
# call (s44_ctest_cost.txt, written as ctest's CTestCostData.txt): about 2500 test-seconds, the two test_gpu_masks
# giants (238 s each) started first, so the suite fits one call's deadline with the build (the split run_s43a took
# 585 s and cut test_python_gpu off).
#   DL=550 bash bench/device/sessions/run_s44b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s44b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-550}
B=build-suite
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader
mkdir -p $B/Testing/Temporary
{ grep -v '^#' bench/device/sessions/s44_ctest_cost.txt; echo '---'; } > $B/Testing/Temporary/CTestCostData.txt
(cd $B && timeout $(left 5) ctest -L gpu -j8 --timeout 400 --output-on-failure -E 64bit) > "$OUT/suite.log" 2>&1
echo "ctest rc=$?"
grep -E "tests passed|Failed|\*\*\*|Not Run|Timeout" "$OUT/suite.log" | head -30
grep '^\[FAIL\]' "$OUT/suite.log" | sort | uniq -c | sort -rn | head -20
grep -cE "Test +#[0-9]+:" "$OUT/suite.log"
echo "t=$(( $(date +%s) - T0 ))"
