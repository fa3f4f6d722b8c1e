#!/bin/bash
# run_s37a_h200.sh - the thirty-seventh session's first call (from the repository root; .seed carried: the Triton
# package). The suite's build (build-suite: every head dim, the tests, -Werror; run_s37b_h200.sh reuses it on a warm
# machine), then, most important first:
#   1. every GPU test entry but the test_gpu_masks family (run_suite_part_h200.sh's PART=2; run_s37b runs the family);
#   2. issue 18's ratios from interleaved rounds (bench/bench_ratio.py), each call alone (batch 1);
#   3. the varlen Config cache's A / B (packed 8 x 2048 against plain causal at D = 128 and 64, each call alone, the
#      cache off and on in turn: the thirty-sixth session's prediction);
#   4. issues 17 / 18's lanes through jfa.torch against the Triton package and SDPA, one process (bench_lanes.py).
#   DL=590 bash bench/device/run_s37a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s37a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-suite
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
(cd $B && timeout $(left 290) ctest -L gpu -j8 --timeout 280 --output-on-failure -E '^test_gpu_masks|64bit') \
  > "$OUT/suite_part2.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/suite_part2.log" | head -30
grep '^\[FAIL\]' "$OUT/suite_part2.log" | sort | uniq -c | sort -rn | head -20
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L1=$(left 200); [ "$L1" -gt 120 ] && L1=120
timeout $L1 python3 bench/bench_ratio.py --rounds 7 --iters 5 > "$OUT/ratio_batch1.log" 2>&1
grep -E "^\||^#" "$OUT/ratio_batch1.log"; echo "t=$(( $(date +%s) - T0 ))"
for d in 128 64; do
  P=jfa:bfloat16:$d:16384:packed2048/jfa:bfloat16:$d:16384:causal@0.85
  for c in 0 1 0 1; do
    timeout $(left 170) python3 bench/bench_ratio.py --rounds 3 --iters 5 --varlen-cache $c --pairs $P 2>&1 |
      grep "^|" | tail -1 | sed "s/^/D $d cache $c /"
  done
done
echo "t=$(( $(date +%s) - T0 ))"
timeout $(left 3) python3 bench/bench_lanes.py --iters 7 --triton-path .seed --lanes \
bfloat16:256:4096:none,bfloat16:192:4096:none,bfloat16:128:4096:none,bfloat16:96:4096:none,bfloat16:64:4096:none,\
bfloat16:128:4096:dense,bfloat16:128:16384:window2048,bfloat16:128:16384:causal,bfloat16:64:16384:window2048,\
bfloat16:64:16384:causal,float32:64:4096:none,float32:128:4096:none,float32:64:8192:none,float32:128:8192:none \
  > "$OUT/lanes.log" 2>&1
grep -E "^\||^#" "$OUT/lanes.log"; echo "t=$(( $(date +%s) - T0 ))"
