#!/bin/bash
# run_s39d_h200.sh - thirty-ninth session (from the repository root): the D = 192 JVP's row 0 against tuning variant 13
# (row 0 with the LEAN softmax, tiles.h LEANCS) on a tuning build of head dim 192: the variants' tests
# (test_gpu_sm90_jvp_variants' D = 192 cases, test_gpu_modes and test_gpu_nan under JFA_TUNE_SM90A=13), then three
# interleaved rounds of `jfa_bench --case 4096 192 0 / 1`.
#   DL=300 bash bench/device/sessions/run_s39d_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s39d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-300}
B=build-tune192
JFA_H200_TARGETS="jfa jfa_bench test_gpu_sm90_jvp_variants test_gpu_modes test_gpu_nan" \
  jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_TUNING=ON "-DJFA_HEAD_DIMS=192"
for c in 0 1 2 3 4 5 6 7 8 9 10 11; do
  timeout 60 $B/tests/gpu/test_gpu_sm90_jvp_variants $c > "$OUT/jvpvar.log" 2>&1
  echo "jvp variants case $c rc=$? $(grep -cE '^\[FAIL\]' "$OUT/jvpvar.log") failed, $(tail -1 "$OUT/jvpvar.log")"
  grep -E '^\[FAIL\]' "$OUT/jvpvar.log" | head -5
done
for t in test_gpu_modes test_gpu_nan; do
  JFA_TUNE_SM90A=13 timeout 90 $B/tests/gpu/$t > "$OUT/$t.log" 2>&1
  echo "$t under 13 rc=$? $(tail -1 "$OUT/$t.log")"
  grep -E '^\[FAIL\]' "$OUT/$t.log" | head -5
done
echo "t=$(( $(date +%s) - T0 ))"
export JFA_BENCH_ITERS=${JFA_BENCH_ITERS:-30}
for r in 1 2 3; do
  for v in 0 13; do
    for c in 0 1; do
      JFA_TUNE_SM90A=$v timeout 60 $B/bench/jfa_bench --case 4096 192 $c | grep -E "^jvp" | sed "s/^/r$r v$v /"
    done
  done
done 2>&1 | tee "$OUT/bench.log"
echo "t=$(( $(date +%s) - T0 ))"
