#!/bin/bash
# run_s19c_h200.sh - the nineteenth session's third call (from the repository root; .seed carried): the sm90 backward's
# dense masks at every head dim (boolean words at D = 96 / 192 / 256, 16-bit biases at 96 / 192). One default build
# (-Werror), the new test_gpu_masks cases 58-63 alone (bounded), the whole GPU suite, issue 18's table and the mask
# lanes against the package and SDPA, sanitizers on cases 60 (bf16 D = 192 bias, the column split) and 58 (D = 96
# boolean). DL: the deadline (seconds after the start, default 570). Logs in $OUT.   DL=570 bash bench/device/run_s19c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s19c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-570}
B=build-s19c
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
for c in 58 59 60 61 62 63; do LIMIT=60 jfa_run $B/tests/gpu/test_gpu_masks $c | grep -E "FAIL|passed|rc=|bwd ran"; done 2>&1 | tee "$OUT/first.log"
echo "t=$(( $(date +%s) - T0 ))"
jfa_gpu_suite $B "$OUT/ctest.log" 200; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 40) python3 bench/bench_lanes.py --iters 5 --triton-path .seed --f32-precision highest \
  --lanes bfloat16:256:4096:none,bfloat16:192:4096:none,bfloat16:128:4096:none,bfloat16:96:4096:none,bfloat16:64:4096:none,bfloat16:128:4096:dense,bfloat16:128:16384:window2048,bfloat16:128:16384:causal,bfloat16:192:4096:bias,bfloat16:96:4096:bias,bfloat16:256:4096:dense,bfloat16:192:4096:dense,bfloat16:96:4096:dense 2>&1 |
  tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
{
  JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 25) test_gpu_masks 60
  JFA_SAN_TAIL=3 jfa_sanitize synccheck $(left 15) test_gpu_masks 58
  echo "== racecheck test_gpu_masks 60 (hazards by kernel)"
  timeout $(left 0) compute-sanitizer --tool racecheck --racecheck-report hazard $B/tests/gpu/test_gpu_masks 60 2>&1 |
    grep -E "Read Thread|Write Thread|RACECHECK SUMMARY" | sed -E 's/<[^>]*>//; s/\(FwdArgs.*\)\+/+/; s/\(BwdArgs.*\)\+/+/' | sort | uniq -c
} 2>&1 | tee "$OUT/san.log"
echo "t=$(( $(date +%s) - T0 ))"
