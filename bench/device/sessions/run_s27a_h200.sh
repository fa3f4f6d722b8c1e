#!/bin/bash
# run_s27a_h200.sh - the twenty-seventh session's first call (from the repository root; .seed carried): one default
# build of every head dim (-Werror), then
#   1. the GPU suite (`ctest -L gpu -E 64bit`) at HEAD: the twenty-sixth session's last kernels (6e130ba: the skip in
#      the non-persistent three consumers ran a build of three head dims only) and this session's packed sequences
#      (test_gpu_fwd_cskip's cases on variant 34, test_gpu_jvp_persist's and test_gpu_masks' aligned ones as bands);
#   2. A / B (jfa_bench; round 2: 8 x 2048 alone): the forward of packed sequences on variant 34 (JFA_SM90_FWD_NC3=1)
#      against variant 29 (the default), D = 64, 8 x 2048, 16 x 1024, 4 x 4096; the JVP of aligned packed sequences as
#      a band (the default) against the MASKED kernels (JFA_SM90_FWD_PACKED_BAND=0), D = 64 and 128, 8 x 2048; plain
#      causal 8 x 2048 and 1 x 16384 beside them (issue 18's ratio);
#   3. memcheck of test_gpu_jvp_persist's aligned packed case 13 and test_gpu_fwd_cskip's packed case 21.
# DL: the deadline (default 570). Logs in $OUT.   DL=570 bash bench/device/run_s27a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s27a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-570}
B=build-s27a
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
jfa_gpu_suite $B "$OUT/ctest.log" 250
echo "t=$(( $(date +%s) - T0 ))"
{
  for r in 1 2; do
    for sl in "8 2048" "16 1024" "4 4096"; do
      [ $r = 2 ] && [ "$sl" != "8 2048" ] && continue
      JFA_SM90_FWD_NC3=1 timeout $(left 70) $JFA_BENCH --varlen $sl 64 | grep -e ^fwd | sed "s/^/[NC3=1 $sl] /"
      timeout $(left 70) $JFA_BENCH --varlen $sl 64 | grep -e ^fwd -e ^jvp | sed "s/^/[default $sl] /"
    done
    JFA_SM90_FWD_PACKED_BAND=0 timeout $(left 70) $JFA_BENCH --varlen 8 2048 64 | grep -e ^jvp | sed "s/^/[PACKED_BAND=0 D=64] /"
    timeout $(left 70) $JFA_BENCH --varlen 8 2048 128 | grep -e ^jvp | sed "s/^/[default D=128] /"
    JFA_SM90_FWD_PACKED_BAND=0 timeout $(left 70) $JFA_BENCH --varlen 8 2048 128 | grep -e ^jvp | sed "s/^/[PACKED_BAND=0 D=128] /"
  done
  for d in 64 128; do
    timeout $(left 70) $JFA_BENCH --causal 8 2048 $d | grep -e ^fwd -e ^jvp -e ^bwd | sed "s/^/[causal 8x2048 D=$d] /"
    timeout $(left 70) $JFA_BENCH --causal 1 16384 $d | grep -e ^fwd -e ^jvp -e ^bwd | sed "s/^/[causal 16384 D=$d] /"
  done
} 2>&1 | tee "$OUT/ab.log"
echo "t=$(( $(date +%s) - T0 ))"
JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 35) test_gpu_jvp_persist 13 2>&1 | tee "$OUT/sanitize.log"
JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 5) test_gpu_fwd_cskip 21 2>&1 | tee -a "$OUT/sanitize.log"
echo "t=$(( $(date +%s) - T0 ))"
