#!/bin/bash
# run_s26a_h200.sh - written at the end of the twenty-fifth session for the next one's first call (from the repository
# root; .seed carried): one default build of every head dim (-Werror), then
#   1. the default GPU suite (`ctest -L gpu -E 64bit`): the twenty-fifth session's last change (75c4933: D = 64's
#      plain causal forward of up to 4096 keys on variant 34's persistent kernel, its plain causal JVP of up to 2048
#      keys on the persistent JVP) has not run on a GPU as a default: its kernels have (call 1's bitwise variants
#      test, call 4's suite with JFA_SM90_JVP_PERSIST=1 entries), its route thresholds and test_gpu_{attention,nan}_
#      nofwdnc3p have not;
#   2. the A / B once more through the defaults: causal B x N = 16 x 1024, 8 x 2048, 4 x 4096, 2 x 8192 at D = 64,
#      default against JFA_SM90_FWD_NC3P=0 JFA_SM90_JVP_PERSIST=0 (the routes before), in alternation;
#   3. the short causal lanes through PyTorch against the Triton package and SDPA (bf16 D = 64 / 128, N = 1024, 2048).
# DL: the deadline (default 570). Logs in $OUT.   DL=570 bash bench/device/run_s26a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s26a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-570}
B=build-s26a
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
jfa_gpu_suite $B "$OUT/ctest.log" 200
echo "t=$(( $(date +%s) - T0 ))"
{
  for r in 1 2; do
    for e in "JFA_X=0" "JFA_SM90_FWD_NC3P=0 JFA_SM90_JVP_PERSIST=0"; do
      for s in "16 1024" "8 2048" "4 4096" "2 8192"; do
        env $e timeout $(left 120) $JFA_BENCH --causal $s 64 | grep -e ^fwd -e ^jvp | sed "s/^/[$e] /"
      done
    done
  done
} 2>&1 | tee "$OUT/ab.log"
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L="bfloat16:64:1024:causal,bfloat16:64:2048:causal,bfloat16:128:1024:causal,bfloat16:128:2048:causal"
timeout $(left 3) python3 bench/bench_lanes.py --iters 9 --lanes $L --triton-path .seed > "$OUT/lanes.log" 2>&1
grep -v Warning "$OUT/lanes.log" | grep -v "^#   " | tail -16; echo "t=$(( $(date +%s) - T0 ))"
