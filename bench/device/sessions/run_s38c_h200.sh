#!/bin/bash
# run_s38c_h200.sh - the thirty-eighth session's D = 192 A / B (from the repository root): a tuning build of head
# dims 128 and 192 (-DJFA_TUNING=ON, -Werror; the library, jfa_bench and the two tests only), then
#   1. test_gpu_sm90_jvp_variants' D = 192 cases (0-11: every D = 192 JVP variant, 7-10 the new two-ring rows,
#      against float64 and 8 / 9 bitwise 7) and test_gpu_sm90_bwd under JFA_TUNE_SM90_BWD=6 (CSO: the D = 192
#      backward in SPLITO's order, passed at D = 256 and landed there, never measured at 192);
#   2. jfa_bench --case 4096 192 0 / 1 under JFA_TUNE_SM90A = 0, 7, 8, 9, 10 (the JVP rows) and JFA_TUNE_SM90_BWD =
#      0, 6, 5 (the bwd rows), two interleaved rounds, and D = 128's rows for the ratios (issue 18: 0.8 asked).
#   DL=420 bash bench/device/sessions/run_s38c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s38c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-420}
B=build-tune
JFA_H200_TARGETS="jfa jfa_bench test_gpu_sm90_jvp_variants test_gpu_sm90_bwd" \
  jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_TUNING=ON "-DJFA_HEAD_DIMS=128;192"
export JFA_BENCH_ITERS=${JFA_BENCH_ITERS:-30}
for r in 1 2; do
  for v in 0 7 8 9 10; do
    for c in 0 1; do
      JFA_TUNE_SM90A=$v timeout 60 $B/bench/jfa_bench --case 4096 192 $c | grep -E "^jvp" | sed "s/^/r$r v$v /"
    done
  done
  for c in 0 1; do timeout 60 $B/bench/jfa_bench --case 4096 128 $c | grep -E "^(jvp|bwd)" | sed "s/^/r$r d128 /"; done
  for v in 0 6 5; do
    for c in 0 1; do
      JFA_TUNE_SM90_BWD=$v timeout 60 $B/bench/jfa_bench --case 4096 192 $c | grep -E "^bwd" | sed "s/^/r$r bwd$v /"
    done
  done
done 2>&1 | tee "$OUT/bench.log"
echo "t=$(( $(date +%s) - T0 ))"
for c in 0 1 2 3 4 5 6 7 8 9 10 11; do
  timeout $(left 100) $B/tests/gpu/test_gpu_sm90_jvp_variants $c > "$OUT/jvpvar_$c.log" 2>&1
  echo "jvp variants case $c rc=$? $(grep -cE '^\[FAIL\]' "$OUT/jvpvar_$c.log") failed, $(tail -1 "$OUT/jvpvar_$c.log")"
done
echo "t=$(( $(date +%s) - T0 ))"
(JFA_TUNE_SM90_BWD=6 timeout $(left 10) $B/tests/gpu/test_gpu_sm90_bwd > "$OUT/bwd_tune6.log" 2>&1; echo "bwd tune6 rc=$?")
grep -E "^\[FAIL\]" "$OUT/bwd_tune6.log" | head; tail -2 "$OUT/bwd_tune6.log"
echo "t=$(( $(date +%s) - T0 ))"
