#!/bin/bash
# run_s26c_h200.sh - the twenty-sixth session's third call (from the repository root; .seed carried): a D = 64 build
# of libjfa, jfa_bench and the GPU tests used here (-Werror), then
#   1. racecheck of variant 34's kernels alone (`--kernel-name kns=fwd_persist`, hazards printed) on test_gpu_attention
#      case 4 (bf16 129 x 129 causal, GQA: the persistent three-consumer forward) with JFA_SM90_FWD_CSKIP=0 and with
#      the skip (call 2: 3 hazards on test_gpu_fwd_cskip case 3, their lines not kept): which run has them, and where;
#   2. the A / B call 2's deadline cut: causal 2 x 8192 and 1 x 16384, D = 64, the default route (non-persistent three
#      consumers) against JFA_SM90_FWD_NC3P=1 (variant 34) without and with the skip; unmasked N = 4096 the same;
#   3. the short causal lanes through PyTorch against the package and SDPA (bf16 D = 64, N = 1024, 2048, and the
#      causal window of 2048 at N = 16384).
# DL: the deadline (default 420). Logs in $OUT.   DL=420 bash bench/device/run_s26c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s26c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-420}
B=build-s26c
JFA_H200_TARGETS="jfa jfa_bench test_gpu_attention test_gpu_fwd_cskip" \
  jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_HEAD_DIMS=64
for e in "JFA_SM90_FWD_CSKIP=0" "JFA_X=0"; do
  echo "== racecheck [$e] test_gpu_attention 4"
  env $e timeout $(left 330) compute-sanitizer --tool racecheck --racecheck-report hazard --kernel-name kns=fwd_persist \
    $B/tests/gpu/test_gpu_attention 4 > "$OUT/race_$e.log" 2>&1
  echo "rc=$?"
  grep -E "RACECHECK SUMMARY|passed" "$OUT/race_$e.log"
  grep -E "^========= (Error|Warning)" "$OUT/race_$e.log" | sort | uniq -c | head -12
  grep -A3 -m3 "Race reported" "$OUT/race_$e.log" | head -16
done 2>&1 | tee "$OUT/race.log"
echo "t=$(( $(date +%s) - T0 ))"
{
  for r in 1 2; do
    for e in "JFA_X=0" "JFA_SM90_FWD_NC3P=1 JFA_SM90_FWD_CSKIP=0" "JFA_SM90_FWD_NC3P=1"; do
      for s in "2 8192" "1 16384"; do
        env $e timeout $(left 150) $JFA_BENCH --causal $s 64 | grep -e ^fwd | sed "s/^/[$e] /"
      done
      env $e timeout $(left 150) $JFA_BENCH --nomask 4096 64 | grep -e ^fwd | sed "s/^/[$e] /"
    done
  done
} 2>&1 | tee "$OUT/ab.log"
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L="bfloat16:64:1024:causal,bfloat16:64:2048:causal,bfloat16:64:16384:window2048"
timeout $(left 3) python3 bench/bench_lanes.py --iters 9 --lanes $L --triton-path .seed > "$OUT/lanes.log" 2>&1
grep -v Warning "$OUT/lanes.log" | grep -v "^#   " | tail -10; echo "t=$(( $(date +%s) - T0 ))"
