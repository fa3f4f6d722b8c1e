#!/bin/bash
# run_s19a_h200.sh - the nineteenth session's first call (from the repository root; .seed carried): the whole GPU
# suite at HEAD (9c083c3: the sm90 forward / JVP's 16-bit bias tiles, last run in full at 2c06ba9), then the bias
# lanes not yet measured on that path (fp16 D = 128; bf16 D = 96 / 192 / 256) with the bf16 D = 128 bias / dense
# lanes again, against the package and SDPA, and the sanitizers on test_gpu_masks 48 / 50. DL: the deadline
# (seconds after the start, default 540). Logs in $OUT.   DL=540 bash bench/device/run_s19a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s19a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-540}
B=build-s19a
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
jfa_gpu_suite $B "$OUT/ctest.log" 110; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 25) python3 bench/bench_lanes.py --iters 5 --triton-path .seed --f32-precision highest \
  --lanes bfloat16:128:4096:bias,float16:128:4096:bias,bfloat16:96:4096:bias,bfloat16:192:4096:bias,bfloat16:256:4096:bias,bfloat16:64:4096:bias,bfloat16:128:4096:dense,bfloat16:128:4096:none 2>&1 |
  tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
{
  JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 12) test_gpu_masks 48
  JFA_SAN_TAIL=12 jfa_sanitize racecheck $(left 0) test_gpu_masks 50
} 2>&1 | tee "$OUT/san.log"
echo "t=$(( $(date +%s) - T0 ))"
