#!/bin/bash
# run_s42a_h200.sh - the forty-second session's first call (from the repository root; .seed carried): the whole GPU
# suite in one call, the test_gpu_masks family first (its entries are the longest) and every other GPU entry after
# it, on the suite's default build (build-suite: every head dim, -Werror); then, in the time left, the float32
# N = 256 lanes with the forward + backward column in two fresh processes (the forty-first session's dQ-into-dq
# change against the Triton package). The forty-first session's calls 1 and 2 put the two parts at about 150 s
# and 160 s of ctest on an H100; run_suite_part_h200.sh keeps the two-call form.
#   DL=590 bash bench/device/sessions/run_s42a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s42a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-suite
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,power.limit --format=csv,noheader
(cd $B && timeout $(left 60) ctest -L gpu -j8 --timeout 400 --output-on-failure -R '^test_gpu_masks' -E 64bit) \
  > "$OUT/suite_part1.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/suite_part1.log" | head -30
grep '^\[FAIL\]' "$OUT/suite_part1.log" | sort | uniq -c | sort -rn | head -20
echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 15) ctest -L gpu -j8 --timeout 400 --output-on-failure -E '^test_gpu_masks|64bit') \
  > "$OUT/suite_part2.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/suite_part2.log" | head -30
grep '^\[FAIL\]' "$OUT/suite_part2.log" | sort | uniq -c | sort -rn | head -20
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
for i in 1 2; do
  L1=$(left 3); [ "$L1" -gt 60 ] && L1=60
  timeout $L1 python3 bench/bench_vs_package.py --triton-path .seed --iters 7 \
    --lanes float32:128:256:causal,float32:64:256:none,float32:128:256:none 2>/dev/null | grep -E "^\||^# jfa|^#   float"
  echo "t=$(( $(date +%s) - T0 ))"
done
