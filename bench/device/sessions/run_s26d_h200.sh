#!/bin/bash
# run_s26d_h200.sh - the twenty-sixth session's fourth call (from the repository root): a D = 64 build of
# test_gpu_fwd_cskip (-Werror), then racecheck of its case 3 (fp16 7 x 129 causal bottom-right, MQA: call 2's 3
# hazards, their lines not kept; call 3 found none in variant 34 on test_gpu_attention case 4 either way) with the
# hazards printed: every kernel, then variant 34's alone (`--kernel-name kns=fwd_persist`), with and without the skip
# (JFA_SM90_FWD_CSKIP=0 in the test's first run only, so the whole test is run).
# DL: the deadline (default 200). Logs in $OUT.   DL=200 bash bench/device/run_s26d_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s26d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-200}
B=build-s26d
JFA_H200_TARGETS="test_gpu_fwd_cskip" jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_HEAD_DIMS=64
for k in all fwd_persist; do
  f=""
  [ $k = all ] || f="--kernel-name kns=$k"
  echo "== racecheck ($k) test_gpu_fwd_cskip 3"
  timeout $(left 5) compute-sanitizer --tool racecheck --racecheck-report hazard $f \
    $B/tests/gpu/test_gpu_fwd_cskip 3 > "$OUT/race_$k.log" 2>&1
  echo "rc=$?"
  grep -E "RACECHECK SUMMARY|passed" "$OUT/race_$k.log"
  grep "^=========" "$OUT/race_$k.log" | grep -v -e "COMPUTE-SANITIZER" -e "SUMMARY" | cut -c1-220 | head -40
done 2>&1 | tee "$OUT/race.log"
echo "t=$(( $(date +%s) - T0 ))"
