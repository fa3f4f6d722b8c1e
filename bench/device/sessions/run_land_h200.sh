#!/bin/bash
# run_land_h200.sh - the eleventh session's new defaults checked and tabled on one H200 (from the repository root;
# .seed carried: the Triton package). One tuning build of every head dim, then
#   1. test_gpu_sm90_jvp_variants (the D = 64 JVP's row 0 at 128 keys a block against float64, the row before as
#      variant 2, 1 bitwise 2, 3 bitwise 0) and test_gpu_*_sm80_nompass (sm80 without MPASS, variants 9);
#   2. the default GPU suite (ctest -L gpu without the 64-bit and tuning entries);
#   3. the D = 128 JVP at 80 keys a block (tuning variant 2) against row 0 (bench/bench_variants.py);
#   4. issues 17 / 18's lanes against the Triton package and SDPA (bench/bench_lanes.py);
#   5. issue 19's table against cuDNN and flash (bench/compare_torch.py), as far as the time bound allows.
# Logs in $OUT.   bash bench/device/run_land_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_land}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-land
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 120 ctest -R "sm90_jvp_variants|_sm80_nompass" -j6 --timeout 110 --output-on-failure) \
  > "$OUT/ctest_var.log" 2>&1
grep -E "tests passed|\*\*\*|Not Run" "$OUT/ctest_var.log" | head; grep FAIL "$OUT/ctest_var.log" | head
echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 230 ctest -L gpu -E "64bit|_tune|variants|_noband|_nompass" -j8 --timeout 220 --output-on-failure) \
  > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -20; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
# the D = 128 JVP at 80 keys a block (tuning variant 2) against row 0, one process
timeout 60 python3 bench/bench_variants.py --iters 10 --rows jvp:4096:128:0:0,2 --rows jvp:4096:128:1:0,2 \
  --rows jvp:16384:128:1:0,2 2>&1 | tee "$OUT/variants.log"
L=$(( 500 - ($(date +%s) - T0) ))
timeout $L python3 bench/bench_lanes.py --iters 8 --triton-path .seed --lanes \
float32:64:2048:none,float32:128:2048:none,float32:64:4096:none,bfloat16:256:4096:none,bfloat16:192:4096:none,\
bfloat16:128:4096:none,bfloat16:96:4096:none,bfloat16:64:4096:none,float16:64:4096:none,bfloat16:128:4096:dense,\
bfloat16:128:16384:window2048,bfloat16:128:16384:causal > "$OUT/lanes.log" 2>&1
cat "$OUT/lanes.log"; echo "t=$(( $(date +%s) - T0 ))"
L=$(( 585 - ($(date +%s) - T0) ))
(cd bench && timeout $L python3 compare_torch.py ../$B/bench/jfa_bench --iters 10 > "$OUT/compare.log" 2>&1)
cat "$OUT/compare.log"; echo "t=$(( $(date +%s) - T0 ))"
