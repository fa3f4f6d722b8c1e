#!/bin/bash
# run_s23b_h200.sh - the twenty-third session's call 2 (from the repository root): a tuning build of every head dim
# (-Werror), then
#   1. the tests of this session's routes: test_gpu_sm90_variants (D = 96 row 0 = variant 31, 32 the row before; D = 64
#      masked calls on the persistent kernel), the masks' suite (its forward route checks now test the persistent bit)
#      with its band entries and ctas3, the NaN suite (a windowed pass added), modes (accumulate mode at D = 96);
#   2. A / B sweep (jfa_bench, bf16): D = 96 forward row 0 / variant 32 (the row before) at N = 4096 and causal N =
#      16384; D = 128 N = 4096 for the ratio; D = 64 window and packed sequences, row 0 / variant 30 (the masked
#      kernel before, not persistent);
#   3. compute-sanitizer memcheck of test_gpu_sm90_variants cases 0 (unmasked) and 8 (a window) with JFA_TEST_SM90_ONLY=32 (every head dim's row
#      0: D = 96's three-consumer kernel and D = 64's persistent masked one are new defaults);
#   4. the rest of the GPU suite in the time left.
# DL: the deadline (default 575). Logs in $OUT.   DL=575 bash bench/device/run_s23b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s23b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-575}
B=build-s23b
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_TUNING=ON
FIRST="^test_gpu_(sm90_variants|masks|masks_fwdband|masks_nofwdband|masks_ctas3|nan|modes|attention)$"
(cd $B && timeout $(left 330) ctest -R "$FIRST" -j8 --timeout 240 --output-on-failure) > "$OUT/ctest_first.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run|Passed|Timeout" "$OUT/ctest_first.log" | head -20
grep '^\[FAIL\]' "$OUT/ctest_first.log" | head
echo "t=$(( $(date +%s) - T0 ))"
{
  for v in 0 32; do
    echo "== D = 96 N = 4096 non-causal (B = 4, H = 21), JFA_TUNE_SM90A=$v"
    JFA_TUNE_SM90A=$v jfa_bench_rows --case 4096 96 0
    echo "== D = 96 causal N = 16384 (B = 1), JFA_TUNE_SM90A=$v"
    JFA_TUNE_SM90A=$v jfa_bench_rows --causal 1 16384 96
  done
  echo "== D = 128 N = 4096 non-causal (the ratio's reference)"
  jfa_bench_rows --case 4096 128 0
  for v in 0 30; do
    echo "== D = 64 window 2048 N = 16384, JFA_TUNE_SM90A=$v"
    JFA_TUNE_SM90A=$v jfa_bench_rows --window 16384 64 2048
    echo "== D = 64 8 packed sequences of 2048, JFA_TUNE_SM90A=$v"
    JFA_TUNE_SM90A=$v jfa_bench_rows --varlen 8 2048 64
  done
} 2>&1 | tee "$OUT/sweep.log"
echo "t=$(( $(date +%s) - T0 ))"
for c in 0 8; do
  JFA_TEST_SM90_ONLY=32 JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 200) test_gpu_sm90_variants $c
done 2>&1 | tee "$OUT/memcheck.log"
echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 3) ctest -L gpu -E "64bit|$FIRST" -j8 --timeout 240 --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30; grep '^\[FAIL\]' "$OUT/ctest.log" | head
echo "t=$(( $(date +%s) - T0 ))"
