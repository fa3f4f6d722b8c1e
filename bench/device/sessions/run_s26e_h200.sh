#!/bin/bash
# run_s26e_h200.sh - the twenty-sixth session's fifth call (from the repository root): a D = 64 build of
# test_gpu_attention (-Werror), then racecheck of variant 34 alone (`--kernel-name kns=fwd_persist`) on its case 4
# (bf16 129 x 129 causal, 16 heads: 16 tiles) on one CTA (JFA_TUNE_SM90_CTAS=1: the tile ring of 4 entries wraps),
# without the skip (JFA_SM90_FWD_CSKIP=0) and with it: call 4's WAR hazards (consumer reads of a tile's ring entry
# at the loop's top against producer warp 1 rewriting the entry, ordered by the iempty mbarrier) with the kernel
# before the skip too, or not.
# DL: the deadline (default 200). Logs in $OUT.   DL=200 bash bench/device/run_s26e_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s26e}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-200}
B=build-s26e
JFA_H200_TARGETS="test_gpu_attention" jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_HEAD_DIMS=64
for e in "JFA_SM90_FWD_CSKIP=0" "JFA_X=0"; do
  echo "== racecheck [$e JFA_TUNE_SM90_CTAS=1] test_gpu_attention 4"
  env $e JFA_TUNE_SM90_CTAS=1 timeout $(left 5) compute-sanitizer --tool racecheck --racecheck-report hazard \
    --kernel-name kns=fwd_persist $B/tests/gpu/test_gpu_attention 4 > "$OUT/race.$e.txt" 2>&1
  echo "rc=$?"
  grep -E "RACECHECK SUMMARY|passed" "$OUT/race.$e.txt"
  grep -E "Read Thread|Write Thread" "$OUT/race.$e.txt" | sed 's/Thread ([0-9]*,0,0) at .*)+/Thread at +/' | sort | uniq -c
done 2>&1 | tee "$OUT/race.log"
echo "t=$(( $(date +%s) - T0 ))"
