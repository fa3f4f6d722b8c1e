#!/bin/bash
# run_s40a_h200.sh - the fortieth session's first call (from the repository root; .seed carried: the Triton package).
# The suite's default build (build-suite: every head dim, the tests, -Werror; run_suite_part_h200.sh reuses it on a
# warm machine), then:
#   1. jfa against the Triton package over the package's own grid (bench/bench_vs_package.py: float32, bfloat16,
#      float16; head dims 16-256; none, causal, boolean and additive masks; N = 1024 and 256; each call alone), no
#      lane started after SWEEP seconds;
#   2. the test_gpu_masks family (run_suite_part_h200.sh's PART=1) on this build, in the time left.
#   DL=590 SWEEP=230 bash bench/device/sessions/run_s40a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s40a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-suite
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
python3 -c "import triton; print('triton', triton.__version__)" 2>&1 | tail -1
PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so timeout $(( ${SWEEP:-230} + 60 )) python3 bench/bench_vs_package.py \
  --triton-path .seed --deadline ${SWEEP:-230} > "$OUT/vs_package.log" 2> "$OUT/vs_package.err"
echo "vs_package rc=$?"
grep -E "^\||^#" "$OUT/vs_package.log"
grep -vE "^#   [0-9.]+ s$" "$OUT/vs_package.err" | sort | uniq -c | sort -rn | head -12
echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 15) ctest -L gpu -j8 --timeout 500 --output-on-failure -R '^test_gpu_masks' -E 64bit) \
  > "$OUT/suite_part1.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/suite_part1.log" | head -30
grep '^\[FAIL\]' "$OUT/suite_part1.log" | sort | uniq -c | sort -rn | head -20
echo "t=$(( $(date +%s) - T0 ))"
