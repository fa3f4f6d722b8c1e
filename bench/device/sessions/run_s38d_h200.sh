#!/bin/bash
# run_s38d_h200.sh - written in the thirty-eighth session for the next (not run yet; from the repository root): the
# D = 192 JVP's row 0 (since the thirty-eighth session the even column split at BN = 64 in two rings, without MPASS)
# against tuning variant 12 (the same with MPASS, bitwise), 11 (row 0 before: BN = 48, one ring, MPASS), 10 (BN = 80:
# +14% causal in its one sample) and 9 (BN = 64, one K stage), on a
# tuning build of head dims 128 and 192; then test_gpu_sm90_jvp_variants' D = 192 cases (12 bitwise row 0) and
# test_gpu_masks on the tuning build under JFA_TUNE_SM90A=12 (its D = 192 cases, 102 among them: packed sequences
# aligned to 64 as a band).
#   DL=400 bash bench/device/sessions/run_s38d_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s38d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-400}
B=build-tune
JFA_H200_TARGETS="jfa jfa_bench test_gpu_sm90_jvp_variants test_gpu_masks" \
  jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_TUNING=ON "-DJFA_HEAD_DIMS=128;192"
export JFA_BENCH_ITERS=${JFA_BENCH_ITERS:-30}
for r in 1 2 3; do
  for v in 0 12 11 10 9; do
    for c in 0 1; do
      JFA_TUNE_SM90A=$v timeout 60 $B/bench/jfa_bench --case 4096 192 $c | grep -E "^jvp" | sed "s/^/r$r v$v /"
    done
  done
  timeout 60 $B/bench/jfa_bench --case 4096 128 0 | grep -E "^jvp" | sed "s/^/r$r d128 /"
done 2>&1 | tee "$OUT/bench.log"
echo "t=$(( $(date +%s) - T0 ))"
for c in 0 1 2 3 4 5 6 7 8 9 10 11; do
  timeout 60 $B/tests/gpu/test_gpu_sm90_jvp_variants $c > "$OUT/jvpvar_$c.log" 2>&1
  echo "jvp variants case $c rc=$? $(grep -cE '^\[FAIL\]' "$OUT/jvpvar_$c.log") failed, $(tail -1 "$OUT/jvpvar_$c.log")"
done
echo "t=$(( $(date +%s) - T0 ))"
(JFA_TUNE_SM90A=12 timeout $(left 5) $B/tests/gpu/test_gpu_masks > "$OUT/masks12.log" 2>&1; echo "masks under 12 rc=$?")
grep -E "^\[FAIL\]" "$OUT/masks12.log" | head; tail -2 "$OUT/masks12.log"
echo "t=$(( $(date +%s) - T0 ))"
