#!/bin/bash
# run_land12_h200.sh - the twelfth session's new defaults checked and tabled on one H200 (from the repository root;
# .seed carried). One tuning build of every head dim (-Werror), then
#   1. the flips' own checks: test_gpu_sm90_bwd_tune11 (the D = 64 backward's 64 query rows, the default before,
#      against float64 with dK / dV bitwise the new default's 128 rows) and test_gpu_sm90_jvp_variants (the D = 96
#      JVP's padded row, now variant 7, against float64; 6 bitwise 7; 2 bitwise the new row 0);
#   2. the default GPU suite (ctest -L gpu without the 64-bit and tuning entries);
#   3. bench_variants.py: the new defaults against the rows before (backward D = 64 0 / 11, JVP D = 96 0 / 7);
#   4. issue 19's table against cuDNN and flash (bench/compare_torch.py), as far as the time bound allows.
# Logs in $OUT.   bash bench/device/run_land12_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_land12}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-land12
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 100 ctest -R "^test_gpu_sm90_(bwd_tune11|jvp_variants)$" -j2 --timeout 90 --output-on-failure) \
  > "$OUT/ctest_var.log" 2>&1
grep -E "tests passed|\*\*\*|Not Run|Test +#" "$OUT/ctest_var.log" | head; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 230 ctest -L gpu -E "64bit|_tune|variants|_noband|_nompass|_hg3" -j8 --timeout 220 \
  --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -20; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout 60 python3 bench/bench_variants.py --iters 10 --rows bwd:4096:64:0:-,JFA_TUNE_SM90_BWD=11 \
  --rows bwd:4096:64:1:-,JFA_TUNE_SM90_BWD=11 --rows bwd:16384:64:1:-,JFA_TUNE_SM90_BWD=11 \
  --rows jvp:4096:96:0:0,7 --rows jvp:16384:96:1:0,7 2>&1 | tee "$OUT/variants.log"
echo "t=$(( $(date +%s) - T0 ))"
L=$(( 585 - ($(date +%s) - T0) ))
(cd bench && timeout $L python3 compare_torch.py ../$B/bench/jfa_bench --iters 10 > "$OUT/compare.log" 2>&1)
cat "$OUT/compare.log"; echo "t=$(( $(date +%s) - T0 ))"
