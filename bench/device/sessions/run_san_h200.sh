#!/bin/bash
# run_san_h200.sh - compute-sanitizer on the eleventh session's new default kernels (from the repository root; one
# H200): a default build of D = 64 / 128 with test_gpu_attention, then racecheck (case 4) and memcheck (4, 0) of
#   - the sm90 D = 64 JVP at 128 keys a block (case 4: GQA 8:1, BSHD, causal 129 x 129; case 0: 2 x 4 heads, 64 x 64),
#   - sm80's MPASS forward / JVP (the same cases under JFA_KERNEL_PATH=sm80).
# Logs in $OUT.   bash bench/device/run_san_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_san}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
B=build-san
JFA_H200_TARGETS="jfa test_gpu_attention" jfa_h200_build $B "$OUT/build.log" -DJFA_HEAD_DIMS="64;128" ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
{
  jfa_sanitize racecheck 100 test_gpu_attention 4
  JFA_KERNEL_PATH=sm80 jfa_sanitize racecheck 100 test_gpu_attention 4
  echo "t=$(( $(date +%s) - T0 ))"
  for c in 4 0; do
    jfa_sanitize memcheck 60 test_gpu_attention $c
    JFA_KERNEL_PATH=sm80 jfa_sanitize memcheck 60 test_gpu_attention $c
  done
  echo "t=$(( $(date +%s) - T0 ))"
} 2>&1 | tee "$OUT/san.log"
