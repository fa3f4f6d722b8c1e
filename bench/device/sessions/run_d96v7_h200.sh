#!/bin/bash
# run_d96v7_h200.sh - what the eleventh session left measured but not the default, on one H200 (from the repository
# root; .seed carried: the Triton package). A tuning build of every head dim, then
#   1. the default GPU suites with D = 96 JVP cases under JFA_TUNE_SM90A=7 (the D = 96 JVP without PAD, tuning variant
#      7: +4.7% / +5.6% in the eleventh session's call 5, rel 0; the variable also picks the D = 128 forward's variant
#      7, PVLAG without the persistent kernel, bitwise the default by test_gpu_sm90_variants): if they pass, variant 7
#      becomes row 0 (tiles.h: row 0's PAD false, variant 7 the padded row, a bitwise test entry);
#   2. test_gpu_sm90_variants and test_gpu_sm90_jvp_variants (default dispatch);
#   3. the D = 96 lane and one D = 128 lane through jfa.torch against SDPA (bench/bench_lanes.py), row 0 and variant 7,
#      with the backward's kernel family (bench_lanes.py since 42eb781 reads it in autograd's thread).
# Logs in $OUT.   bash bench/device/run_d96v7_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_d96v7}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-d96v7
jfa_h200_build $B "$OUT/build.log" -DJFA_TUNING=ON -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && JFA_TUNE_SM90A=7 timeout 200 ctest -R "^test_gpu_(tangent|attention|modes|nan|masks|blockmask|backward_jvp)$" \
  -j8 --timeout 190 --output-on-failure) > "$OUT/ctest_v7.log" 2>&1
grep -E "tests passed|\*\*\*|Not Run|FAIL" "$OUT/ctest_v7.log" | head -12; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout 120 ctest -R "^test_gpu_sm90_(jvp_)?variants$" -j2 --timeout 110 --output-on-failure) \
  > "$OUT/ctest_var.log" 2>&1
grep -E "tests passed|\*\*\*|Not Run|FAIL" "$OUT/ctest_var.log" | head; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
for v in 0 7; do
  echo "== JFA_TUNE_SM90A=$v"
  JFA_TUNE_SM90A=$v timeout 90 python3 bench/bench_lanes.py --iters 8 --lanes bfloat16:96:4096:none,bfloat16:128:4096:none
done 2>&1 | tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
