#!/bin/bash
# run_open_h200.sh - the checks the eighth session of 2026-12-02 left open, as one bounded device call (from the
# repository root; .seed/jvp_flash_attention carried for the Triton rows). A tuning build (head dims 64, 96,
# 128, 192, 256), then:
#   1. the D = 64 forward with three consumer warpgroups (tuning variants 18-21, branch fwd3c: compiled, never
#      run): its tests, compute-sanitizer synccheck / racecheck on small cases, and its timing against variant 0
#      in one process (bench/bench_variants.py; bench/RESULTS.md "three consumer warpgroups ... - prediction");
#   2. issue 18's table from one run (jfa, the Triton package, SDPA; head dims, a dense mask, a window) through
#      bench/bench_lanes.py;
#   3. ncu of the D = 128 forward and backward (issue 19 asks what limits each kernel), with what time is left;
#   0. first, the second-order Python tests under torch >= 2.0 (test_torch_func_hvp_one_fused_call is marked cpu:
#      neither CI, with torch 1.13, nor the GPU runner has ever run it).
# Logs in $OUT; each step bounded (LIMIT seconds in all, default 540).   bash bench/device/run_open_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_open}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
left() { echo $((${LIMIT:-540} - ($(date +%s) - T0))); }
B=build-open
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_HEAD_DIMS="64;96;128;192;256" -DJFA_WARNINGS_AS_ERRORS=ON ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"
{
  (cd $B && timeout 200 ctest -R "sm90_variants|_tune1[89]$|_tune2[01]$" -j4 --timeout 190 --output-on-failure |
    grep -E "tests passed|\*\*\*|^\[FAIL\]")
  for t in "synccheck 18 5" "racecheck 18 5" "synccheck 20 3"; do
    set -- $t
    echo "== $1 variant $2 case $3"
    JFA_TEST_SM90_ONLY=$2 timeout 60 compute-sanitizer --tool $1 $B/tests/gpu/test_gpu_sm90_variants $3 2>&1 |
      grep -E "ERROR SUMMARY|RACECHECK SUMMARY|passed," | head -3
  done
} > "$OUT/nc3.log" 2>&1
cat "$OUT/nc3.log"; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout 90 python3 -m pytest -q -rs -p no:cacheprovider tests/python/test_second_order.py > "$OUT/so_tests.log" 2>&1
tail -5 "$OUT/so_tests.log"
timeout 90 python3 bench/bench_variants.py --iters 15 --rows fwd:4096:64:0:0,18,19,20,21 --rows fwd:16384:64:0:0,18,19,20,21 \
  --rows fwd:4096:64:1:0,18,19,20,21 --rows fwd:16384:64:1:0,18,19,20,21 > "$OUT/nc3_bench.log" 2>&1
cat "$OUT/nc3_bench.log"; echo "t=$(( $(date +%s) - T0 ))"
[ "$(left)" -gt 100 ] && { timeout $(( $(left) < 150 ? $(left) - 10 : 140 )) python3 bench/bench_lanes.py --iters 8 --triton-path .seed \
  --lanes bfloat16:256:4096:none,bfloat16:96:4096:none,bfloat16:128:4096:dense,bfloat16:128:16384:window2048,bfloat16:128:16384:causal \
  > "$OUT/lanes.log" 2>&1; tail -12 "$OUT/lanes.log"; }
echo "t=$(( $(date +%s) - T0 ))"
[ "$(left)" -gt 60 ] && { timeout $(( $(left) - 5 )) ncu --kernel-name-base demangled -k "regex:fwd_persist|bwd_sm90a_kernel<[^,]+, \(int\)128" \
  --launch-count 2 --section SpeedOfLight --section WarpStateStats --section ComputeWorkloadAnalysis \
  --metrics "regex:sm__pipe_tensor.*_cycles_active\.avg\.pct_of_peak_sustained_active,regex:sm__inst_executed_pipe_(xu|alu|fma)\.avg\.pct_of_peak_sustained_active" \
  $B/bench/jfa_bench --case 4096 128 0 > "$OUT/ncu_d128.log" 2>&1;
  grep -E "  (void|fwd|bwd)|pct_of_peak|Issue Slots Busy|No Eligible|Duration" "$OUT/ncu_d128.log" | head -40; }
echo "t=$(( $(date +%s) - T0 ))"
