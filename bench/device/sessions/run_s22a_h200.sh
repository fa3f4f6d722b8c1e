#!/bin/bash
# run_s22a_h200.sh - written at the end of the twenty-first session for the next one's first call (from the repository
# root): a tuning build of every head dim (-Werror), then
#   1. the tuning entries that have never run on a GPU (the nineteenth session's test_gpu_sm90_variants variant 30,
#      test_gpu_{masks,modes,nan}_tune8 / _tune9 with 16-bit biases; run_s20a's second step, whose call was lost);
#   2. a sweep of the weak lanes over variants that need no new code (jfa_bench, bf16, median of its runs):
#      - the D = 64 causal forward at N = 4096 (0.91x cuDNN, 79% of its non-causal): JFA_TUNE_SM90A 0 (three
#        consumers, PVLAG), 13 / 14 (two consumers, PVLAG, 3 / 4 stages), 22 (two, OVERLAP), 29 (persistent);
#      - the D = 64 window forward (57% of causal): variants 0 / 29 x JFA_SM90_FWD_BAND 0 / 1;
#      - the D = 96 forward (0.69x D = 128's): variant 31 (three consumers at BN = 96, added in the twenty-first
#        session; test_gpu_sm90_variants checks it in step 1) against 0;
#      - the D = 128 window JVP (~70-76% of causal): JFA_SM90_JVP_PERSIST 0 / 1 x JFA_SM90_FWD_BAND 0 / 1 (the
#        persistent JVP on the band was never measured);
#   3. ncu of the D = 128 window forward on its MASKED kernel and on the band (the band's -5%);
#   4. the tuning suite's other entries (ctest -L gpu without the 64-bit and the default suite's own), in the time left.
# DL: the deadline (default 570). Logs in $OUT.   DL=570 bash bench/device/run_s22a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s22a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-570}
B=build-s22a
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_TUNING=ON
(cd $B && timeout $(left 300) ctest -R "sm90_variants|_(masks|modes|nan)_tune[89]$" -j8 --timeout 240 \
  --output-on-failure) > "$OUT/ctest_tune.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run|Passed|Timeout" "$OUT/ctest_tune.log" | head -30
grep '^\[FAIL\]' "$OUT/ctest_tune.log" | head
echo "t=$(( $(date +%s) - T0 ))"
{
  for v in 0 13 14 22 29; do
    echo "== D = 64 causal N = 4096, JFA_TUNE_SM90A=$v"
    JFA_TUNE_SM90A=$v jfa_bench_rows --case 4096 64 1
  done
  for v in 0 31; do
    echo "== D = 96 N = 4096 non-causal / causal, JFA_TUNE_SM90A=$v (31: three consumers at BN = 96, never run before)"
    JFA_TUNE_SM90A=$v jfa_bench_rows --case 4096 96 0
    JFA_TUNE_SM90A=$v jfa_bench_rows --case 4096 96 1
  done
  for v in 0 29; do
    for bd in 0 1; do
      echo "== D = 64 window 2048 N = 16384, JFA_TUNE_SM90A=$v JFA_SM90_FWD_BAND=$bd"
      JFA_TUNE_SM90A=$v JFA_SM90_FWD_BAND=$bd jfa_bench_rows --window 16384 64 2048
    done
  done
  for pv in 0 1; do
    for bd in 0 1; do
      echo "== D = 128 window 2048 N = 16384, JFA_SM90_JVP_PERSIST=$pv JFA_SM90_FWD_BAND=$bd"
      JFA_SM90_JVP_PERSIST=$pv JFA_SM90_FWD_BAND=$bd jfa_bench_rows --window 16384 128 2048
    done
  done
  echo "== causal references: D = 64 / 128, B = 1, N = 16384"
  jfa_bench_rows --causal 1 16384 64
  jfa_bench_rows --causal 1 16384 128
} 2>&1 | tee "$OUT/sweep.log"
echo "t=$(( $(date +%s) - T0 ))"
# the forward's band against its MASKED kernel on the same window (call 2 of the twenty-first session: -5%, not
# understood): ncu of the persistent D = 128 forward, one launch after two, each way
for bd in 0 1; do
  echo "== ncu D = 128 window 2048 N = 16384 forward, JFA_SM90_FWD_BAND=$bd"
  JFA_SM90_FWD_BAND=$bd JFA_BENCH_ITERS=1 timeout $(left 200) ncu --kernel-name-base demangled --launch-skip 2 \
    --launch-count 1 -k "regex:fwd_persist_sm90a_kernel" --section SpeedOfLight --section WarpStateStats \
    --section InstructionStats --metrics "regex:sm__pipe_tensor_cycles_active\.avg\.pct_of_peak_sustained_active" \
    $B/bench/jfa_bench --window 16384 128 2048 > "$OUT/ncu_band$bd.log" 2>&1
  grep -E "Duration|pct_of_peak|Warp Cycles Per Issued|Executed Instructions  |Issue Slots Busy" "$OUT/ncu_band$bd.log" | head
done 2>&1 | tee "$OUT/ncu.log"
(cd $B && timeout $(left 3) ctest -L gpu -E "64bit|_tune[89]$|sm90_variants" -j8 --timeout 240 \
  --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30; grep '^\[FAIL\]' "$OUT/ctest.log" | head
echo "t=$(( $(date +%s) - T0 ))"
