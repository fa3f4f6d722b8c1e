#!/bin/bash
# run_s20c_h200.sh - the twentieth session's call for the persistent JVP (jvp_persist.cuh, on by default): one default
# build of every head dim (-Werror); test_gpu_jvp_persist (bitwise against fwd.cuh's kernel, many tiles a CTA, float64);
# the JVP lanes A / B (JFA_SM90_JVP_PERSIST=0, fwd.cuh's kernel, against the default); the backward's large-logit
# accuracy against SDPA's backends (bench/bwd_logits.py, issue 19); the whole GPU suite;
# compute-sanitizer on test_gpu_jvp_persist. DL: the deadline (default 540). Logs in $OUT.
#   DL=540 bash bench/device/run_s20c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s20c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-540}
B=build-s20c
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
LIMIT=$(left 400) jfa_run $B/tests/gpu/test_gpu_jvp_persist > "$OUT/jvp_persist.log" 2>&1
grep -E "FAIL|passed,|rc=" "$OUT/jvp_persist.log" | head -20; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L="bfloat16:128:4096:none,bfloat16:128:4096:causal,bfloat16:128:16384:causal,bfloat16:128:16384:window2048"
L="$L,bfloat16:64:4096:none,bfloat16:64:16384:causal,bfloat16:64:16384:window2048,bfloat16:96:4096:none"
for pv in 0 1; do
  echo "== JFA_SM90_JVP_PERSIST=$pv"
  JFA_SM90_JVP_PERSIST=$pv timeout $(left 300) python3 bench/bench_lanes.py --iters 7 --lanes $L 2>&1 | grep -E "jfa|sdpa|^\|"
done 2>&1 | tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
timeout 45 python3 bench/bwd_logits.py 2>&1 | tee "$OUT/bwd_logits.log"
echo "t=$(( $(date +%s) - T0 ))"
jfa_gpu_suite $B "$OUT/ctest.log" 40; echo "t=$(( $(date +%s) - T0 ))"
{
  JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 25) test_gpu_jvp_persist 9
  JFA_SAN_TAIL=3 jfa_sanitize synccheck $(left 15) test_gpu_jvp_persist 3
  echo "== racecheck (jvp_persist kernels) test_gpu_jvp_persist 9"
  timeout $(left 3) compute-sanitizer --tool racecheck --kernel-name kns=jvp_persist --racecheck-report hazard \
    $B/tests/gpu/test_gpu_jvp_persist 9 2>&1 | grep -E "RACECHECK SUMMARY|Read Thread|Write Thread|passed," |
    sed -E 's/<[^>]*>//' | sort | uniq -c | head -20
} 2>&1 | tee "$OUT/san.log"
echo "t=$(( $(date +%s) - T0 ))"
