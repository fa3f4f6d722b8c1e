#!/bin/bash
# run_s24a_h200.sh - written at the end of the twenty-third session for the next one's first call (from the
# repository root): one tuning build of every head dim (-Werror; its default routes are the default build's), then
#   0. test_gpu_sm90_variants (tuning variant 33, the D = 256 forward at 80 keys a block, compiled only so far: ptxas
#      with CUDA 13.0 reports 32 bytes of spill stores for it, and 12 for row 0's BN = 64 kernel) and an A / B of the
#      D = 256 forward, row 0 / 33 (issue 18: 0.76x SDPA);
#   1. the gap between the two benchmarks on the same shapes (call 3 of the twenty-third session: jfa_bench's D = 64
#      window forward 0.740 ms, bench_lanes' 0.881; causal D = 64 2.19 against 2.33 ms; D = 128 0.03-0.06 ms): jfa_bench
#      (BSHD tensors, the C API) against bench_lanes in both layouts (--layout bhsd, its default, and bshd, jfa_bench's),
#      with --profile (the kernels' own GPU time a call), and the random half mask's lane (how much of its time the
#      block map's kernels take: a (4, 16, 4096, 4096) boolean mask is 1 GiB read each call); the D = 96 JVP's two
#      orders (step 0);
#   2. ncu of the D = 64 window forward (the persistent masked kernel, 69% of causal's rate) against the plain causal
#      forward (three consumers): where the window's time goes;
#   3. the GPU suite (of the tuning build: more entries than the default's) in the time left.
# DL: the deadline (default 570). Logs in $OUT.   DL=570 bash bench/device/run_s24a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s24a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-570}
B=build-s24a
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_TUNING=ON
(cd $B && timeout $(left 400) ctest -R "^test_gpu_sm90_variants$" --timeout 240 --output-on-failure) > "$OUT/ctest_var.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Passed" "$OUT/ctest_var.log" | head -5; grep '^\[FAIL\]' "$OUT/ctest_var.log" | head
for v in 0 33; do
  echo "== D = 256 N = 4096 (B = 4, H = 8), JFA_TUNE_SM90A=$v"
  JFA_TUNE_SM90A=$v jfa_bench_rows --case 4096 256 0
  JFA_TUNE_SM90A=$v jfa_bench_rows --case 4096 256 1
done 2>&1 | tee "$OUT/d256.log"
# the D = 96 JVP measured 520-521 after the three-consumer forward and 553-556 after the row before's, in two calls of
# the twenty-third session (the JVP's kernel is the same either way): the two orders once more
for v in 32 0 32 0; do
  echo "== D = 96 N = 4096, JFA_TUNE_SM90A=$v"
  JFA_TUNE_SM90A=$v jfa_bench_rows --case 4096 96 0
done 2>&1 | tee "$OUT/d96.log"
{
  jfa_bench_rows --causal 1 16384 64
  jfa_bench_rows --window 16384 64 2048
  jfa_bench_rows --causal 1 16384 128
  jfa_bench_rows --window 16384 128 2048
} 2>&1 | tee "$OUT/jfa_bench.log"
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L="bfloat16:64:16384:causal,bfloat16:64:16384:window2048,bfloat16:128:16384:causal,bfloat16:128:16384:window2048"
L="$L,bfloat16:128:4096:dense"  # --profile: the dense mask's block-map kernels against the attention kernel
for lay in bhsd bshd; do
  timeout $(left 300) python3 bench/bench_lanes.py --iters 9 --lanes $L --layout $lay --profile > "$OUT/lanes_$lay.log" 2>&1
  grep -v Warning "$OUT/lanes_$lay.log" | grep -E "^\||# profile|layout" | head -40
done
echo "t=$(( $(date +%s) - T0 ))"
for w in causal window; do
  if [ $w = causal ]; then args="--causal 1 16384 64"; else args="--window 16384 64 2048"; fi
  echo "== ncu D = 64 $w forward"
  JFA_BENCH_ITERS=1 timeout $(left 200) ncu --launch-skip 2 --launch-count 1 -k "regex:fwd.*sm90a" \
    --section SpeedOfLight --section WarpStateStats --section LaunchStats \
    --metrics "regex:sm__pipe_tensor_cycles_active\.avg\.pct_of_peak_sustained_active" \
    $B/bench/jfa_bench $args > "$OUT/ncu_$w.log" 2>&1
  grep -E "Duration|pct_of_peak|Warp Cycles Per Issued|Grid Size|Registers|Issue Slots Busy|Function Name|fwd" \
    "$OUT/ncu_$w.log" | head -14
done 2>&1 | tee "$OUT/ncu.log"
echo "t=$(( $(date +%s) - T0 ))"
jfa_gpu_suite $B "$OUT/ctest.log" 3; echo "t=$(( $(date +%s) - T0 ))"
