#!/bin/bash
# run_s25d_h200.sh - the twenty-fifth session's last call (from the repository root): one default build of every head
# dim (-Werror), then
#   1. the default GPU suite at HEAD (`ctest -L gpu -E 64bit`; test_gpu_masks with two new D = 64 cases of packed
#      sequences aligned to 128, which the backward runs as bands now);
#   2. kernel-level ratios (jfa_bench): D = 128 causal window 2048 against causal at N = 16384; 8 packed sequences of
#      2048 against causal B = 8 N = 2048 (the same visible pairs a sequence) at D = 64 and 128;
#   3. compute-sanitizer memcheck of test_gpu_masks case 45 (D = 64 window: the forward on variant 34's MASKED
#      kernel, the backward's band) and case 68 (aligned packed sequences at D = 64).
# DL: the deadline (default 480). Logs in $OUT.   DL=480 bash bench/device/run_s25d_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s25d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-480}
B=build-s25d
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
jfa_gpu_suite $B "$OUT/ctest.log" 150
echo "t=$(( $(date +%s) - T0 ))"
{
  for D in 128; do
    JFA_BENCH_TIMEOUT=$(left 120) jfa_bench_rows --window 16384 $D 2048
    JFA_BENCH_TIMEOUT=$(left 120) jfa_bench_rows --causal 1 16384 $D
  done
  for D in 64 128; do
    JFA_BENCH_TIMEOUT=$(left 120) jfa_bench_rows --varlen 8 2048 $D
    JFA_BENCH_TIMEOUT=$(left 120) jfa_bench_rows --causal 8 2048 $D
  done
} 2>&1 | tee "$OUT/ratios.log"
echo "t=$(( $(date +%s) - T0 ))"
{
  jfa_sanitize memcheck $(left 60) test_gpu_masks 45
  jfa_sanitize memcheck $(left 5) test_gpu_masks 68
} 2>&1 | tee "$OUT/memcheck.log"
echo "t=$(( $(date +%s) - T0 ))"
