#!/bin/bash
# run_suite_part_h200.sh - the whole GPU suite in two device calls (from the repository root; it no longer fits one:
# the thirty-fifth session's call finished 64 of 77 entries in 440 s, the twelve test_gpu_masks entries at 256-274 s
# each): PART=1 the test_gpu_masks family (case times printed by each test: `(case N took S s)`), PART=2 every other
# GPU entry, test_python_gpu included. Default build of every head dim (-Werror); a warm machine keeps the build for
# the other part.
#   PART=1 DL=580 bash bench/device/run_suite_part_h200.sh; PART=2 DL=580 bash bench/device/run_suite_part_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_suite_part}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-580}
B=build-suite
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
if [ "${PART:-1}" = 1 ]; then SEL=(-R '^test_gpu_masks' -E 64bit); else SEL=(-E '^test_gpu_masks|64bit'); fi
(cd $B && timeout $(left 20) ctest -L gpu -j8 --timeout 500 --output-on-failure "${SEL[@]}") > "$OUT/suite.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/suite.log" | head -30
grep '^\[FAIL\]' "$OUT/suite.log" | sort | uniq -c | sort -rn | head -20
grep -hE "^  \(case [0-9]+ took" "$OUT/suite.log" | sed 's/.*(case \([0-9]*\) took \([0-9.]*\) s)/\2 s case \1/' | sort -rn |
  head -12
echo "t=$(( $(date +%s) - T0 ))"
