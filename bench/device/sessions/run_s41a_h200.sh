#!/bin/bash
# run_s41a_h200.sh - the forty-first session's first call (from the repository root; .seed carried: the Triton
# package). The suite's default build (build-suite: every head dim, the tests, -Werror; run_s41b_h200.sh reuses it on
# the warm machine), then:
#   1. issues 17 / 18's tables from one process (bench_lanes.py: jfa against the Triton package and SDPA; issue 18's
#      bf16 lanes, issue 17's float32 lanes at D = 64 / 128 and N = 2048 / 4096 / 8192), and the padded dense-mask
#      lanes of the fortieth session (D = 32, N = 1024; run_s40e's, never run) in a second process;
#   2. the test_gpu_masks family (run_suite_part_h200.sh's PART=1) in the time left.
#   DL=590 bash bench/device/sessions/run_s41a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s41a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-suite
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,power.limit --format=csv,noheader
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout 240 python3 bench/bench_lanes.py --iters 7 --triton-path .seed --lanes \
bfloat16:256:4096:none,bfloat16:192:4096:none,bfloat16:128:4096:none,bfloat16:96:4096:none,bfloat16:64:4096:none,\
bfloat16:128:4096:dense,bfloat16:128:16384:window2048,bfloat16:128:16384:causal,bfloat16:64:16384:window2048,\
bfloat16:64:16384:causal,float32:64:2048:none,float32:128:2048:none,float32:64:4096:none,float32:128:4096:none,\
float32:64:8192:none,float32:128:8192:none > "$OUT/lanes.log" 2>&1
echo "lanes rc=$?"
grep -E "^\||^#" "$OUT/lanes.log"; echo "t=$(( $(date +%s) - T0 ))"
timeout 60 python3 bench/bench_lanes.py --iters 5 --triton-path .seed --width 1024 \
  --lanes bfloat16:32:1024:dense,bfloat16:32:1024:bias,float16:32:1024:dense > "$OUT/lanes_pad.log" 2>&1
echo "lanes_pad rc=$?"
grep -E "^\||^#" "$OUT/lanes_pad.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 10) ctest -L gpu -j8 --timeout 500 --output-on-failure -R '^test_gpu_masks' -E 64bit) \
  > "$OUT/suite_part1.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/suite_part1.log" | head -30
grep '^\[FAIL\]' "$OUT/suite_part1.log" | sort | uniq -c | sort -rn | head -20
echo "t=$(( $(date +%s) - T0 ))"
