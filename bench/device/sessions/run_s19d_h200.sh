#!/bin/bash
# run_s19d_h200.sh - the nineteenth session's fourth call (from the repository root): a tuning build of head dims 64
# and 192 (-Werror): racecheck of the sm90 backward kernels alone (--kernel-name kns=bwd_sm90a) on test_gpu_masks 56
# (fp16 D = 64 bias), 60 (bf16 D = 192 bias, the column split), 59 (fp16 D = 192 boolean, MQA); then the D = 64 masked
# forward's kernels A / B on the bias, dense and window lanes: JFA_TUNE_SM90A=0 (masked calls on variant 24: two
# consumers, OVERLAP), 29 (masked calls on the PVLAGM kernel with MPASS, BN = 128, 3 stages), 13 (the same without
# MPASS). DL: the deadline (default 330). Logs in $OUT.   DL=330 bash bench/device/run_s19d_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s19d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-330}
B=build-s19d
JFA_H200_TARGETS="jfa test_gpu_masks" jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_TUNING=ON \
  "-DJFA_HEAD_DIMS=64;192"
for c in 56 60 59; do
  echo "== racecheck (bwd_sm90a kernels) test_gpu_masks $c"
  timeout $(left 200) compute-sanitizer --tool racecheck --kernel-name kns=bwd_sm90a --racecheck-report hazard \
    $B/tests/gpu/test_gpu_masks $c 2>&1 | grep -E "RACECHECK SUMMARY|Read Thread|Write Thread|passed," |
    sed -E 's/<[^>]*>//; s/\(BwdArgs.*\)\+/+/' | sort | uniq -c
done 2>&1 | tee "$OUT/race.log"
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
for v in 0 29 13; do
  echo "== JFA_TUNE_SM90A=$v"
  JFA_TUNE_SM90A=$v timeout $(left 5) python3 bench/bench_lanes.py --iters 5 \
    --lanes bfloat16:64:4096:bias,bfloat16:64:4096:dense,bfloat16:64:16384:window2048 2>&1 | grep "jfa"
done 2>&1 | tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
