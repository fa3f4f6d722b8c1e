#!/bin/bash
# run_s39a_h200.sh - thirty-ninth session (from the repository root): the D = 192 JVP's key split (tuning variant 13,
# src/kernels/sm90/jvp_ks.cuh) on a tuning build of head dims 128 and 192. Its tests first:
# test_gpu_sm90_jvp_variants' D = 192 cases (13 among the variants, against float64; bf16 / fp16, causal, GQA, NaN,
# fully masked rows, a window as a band, accumulate mode), compute-sanitizer memcheck and racecheck of one small call
# under JFA_TUNE_SM90A=13; then the A / B, JVP TFLOP/s of row 0 (the even split, variant 7's tiles), 13 and 12 (row 0
# with MPASS), three interleaved rounds, D = 128 beside; then test_gpu_masks under JFA_TUNE_SM90A=13 (its D = 192
# cases: windows and aligned packed sequences run as bands on the unmasked kernel, the key split's).
#   DL=560 bash bench/device/sessions/run_s39a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s39a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-560}
B=build-tune
JFA_H200_TARGETS="jfa jfa_bench test_gpu_sm90_jvp_variants test_gpu_masks" \
  jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_TUNING=ON "-DJFA_HEAD_DIMS=128;192"
for c in 0 1 2 3 4 5 6 7 8 9 10 11; do
  timeout 60 $B/tests/gpu/test_gpu_sm90_jvp_variants $c > "$OUT/jvpvar_$c.log" 2>&1
  echo "jvp variants case $c rc=$? $(grep -cE '^\[FAIL\]' "$OUT/jvpvar_$c.log") failed, $(tail -1 "$OUT/jvpvar_$c.log")"
done
grep -hE '^\[FAIL\]' "$OUT"/jvpvar_*.log | head -20
echo "t=$(( $(date +%s) - T0 ))"
for tool in memcheck racecheck; do
  echo "== $tool jfa_bench --case 512 192 1 (JFA_TUNE_SM90A=13)"
  JFA_TUNE_SM90A=13 JFA_BENCH_ITERS=1 timeout 120 compute-sanitizer --tool $tool --error-exitcode 9 \
    $B/bench/jfa_bench --case 512 192 1 > "$OUT/san_$tool.log" 2>&1
  echo "rc=$?"
  grep -E "ERROR SUMMARY|RACECHECK SUMMARY|Hazard|Invalid" "$OUT/san_$tool.log" | sort | uniq -c | head -8
done
echo "t=$(( $(date +%s) - T0 ))"
export JFA_BENCH_ITERS=${JFA_BENCH_ITERS:-30}
for r in 1 2 3; do
  for v in 0 13 12; do
    for c in 0 1; do
      JFA_TUNE_SM90A=$v timeout 60 $B/bench/jfa_bench --case 4096 192 $c | grep -E "^jvp" | sed "s/^/r$r v$v /"
    done
  done
  timeout 60 $B/bench/jfa_bench --case 4096 128 0 | grep -E "^jvp" | sed "s/^/r$r d128 /"
done 2>&1 | tee "$OUT/bench.log"
echo "t=$(( $(date +%s) - T0 ))"
(JFA_TUNE_SM90A=13 JFA_TEST_MASKS_SKIP_BIG=1 timeout $(left 5) $B/tests/gpu/test_gpu_masks > "$OUT/masks13.log" 2>&1
 echo "masks under 13 rc=$?")
grep -E "^\[FAIL\]" "$OUT/masks13.log" | head; tail -2 "$OUT/masks13.log"
echo "t=$(( $(date +%s) - T0 ))"
