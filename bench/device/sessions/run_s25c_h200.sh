#!/bin/bash
# run_s25c_h200.sh - the twenty-fifth session's third call (from the repository root): one default build of every
# head dim (-Werror), then
#   1. the mask tests with the forward's windows as bands (test_gpu_masks_fwdband, test_gpu_jvp_persist_fwdband: at
#      D = 64 now on the unmasked form of variant 34's three-consumer persistent kernel) and their default twins;
#   2. A / B of the D = 64 window forward, in alternation: the default (34's MASKED kernel), JFA_SM90_FWD_BAND=1 (34's
#      unmasked kernel with the band), JFA_SM90_FWD_BAND=1 JFA_SM90_FWD_NC3=0 (29's unmasked kernel with the band);
#   3. issue 18's table from one process against the Triton package (.seed, carried) and SDPA.
# DL: the deadline (default 480). Logs in $OUT.   DL=480 bash bench/device/run_s25c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s25c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-480}
B=build-s25c
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
(cd $B && timeout $(left 330) ctest -R "^test_gpu_(masks|masks_fwdband|jvp_persist_fwdband|nan|jvp_persist)$" -j5 \
  --timeout 150 --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Passed" "$OUT/ctest.log" | head -8; grep '^\[FAIL\]' "$OUT/ctest.log" | head
echo "t=$(( $(date +%s) - T0 ))"
{
  for r in 1 2; do
    for e in "JFA_X=0" "JFA_SM90_FWD_BAND=1" "JFA_SM90_FWD_BAND=1 JFA_SM90_FWD_NC3=0"; do
      env $e JFA_BENCH_TIMEOUT=$(left 250) $JFA_BENCH --window 16384 64 2048 | grep -e ^fwd -e ^jvp | sed "s/^/$e /"
    done
  done
} 2>&1 | tee "$OUT/ab.log"
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L="bfloat16:64:4096:none,bfloat16:96:4096:none,bfloat16:128:4096:none,bfloat16:192:4096:none,bfloat16:256:4096:none"
L="$L,bfloat16:128:4096:dense,bfloat16:128:16384:causal,bfloat16:128:16384:window2048"
L="$L,bfloat16:64:16384:causal,bfloat16:64:16384:window2048"
timeout $(left 3) python3 bench/bench_lanes.py --iters 7 --lanes $L --triton-path .seed > "$OUT/lanes18.log" 2>&1
grep -v Warning "$OUT/lanes18.log" | grep -v "^#   " | tail -45; echo "t=$(( $(date +%s) - T0 ))"
