#!/bin/bash
# run_s41b_h200.sh - the forty-first session's second call, on run_s41a's warm machine (its build-suite kept):
#   1. every GPU entry but the test_gpu_masks family (run_suite_part_h200.sh's PART=2);
#   2. issue 18's ratios from interleaved rounds (bench/bench_ratio.py), each call alone, in the time left.
#   DL=590 bash bench/device/sessions/run_s41b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s41b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-suite
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
(cd $B && timeout $(left 100) ctest -L gpu -j8 --timeout 400 --output-on-failure -E '^test_gpu_masks|64bit') \
  > "$OUT/suite_part2.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/suite_part2.log" | head -30
grep '^\[FAIL\]' "$OUT/suite_part2.log" | sort | uniq -c | sort -rn | head -20
echo "t=$(( $(date +%s) - T0 ))"
L1=$(left 5); [ "$L1" -gt 120 ] && L1=120
PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so timeout $L1 python3 bench/bench_ratio.py --rounds 5 --iters 5 \
  > "$OUT/ratio.log" 2>&1
grep -E "^\||^#" "$OUT/ratio.log"; echo "t=$(( $(date +%s) - T0 ))"
