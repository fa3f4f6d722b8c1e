#!/bin/bash
# run_s27b_h200.sh - the twenty-seventh session's second call (from the repository root; .seed carried): a default
# build of every head dim (-Werror; libjfa, jfa_bench and six tests), then
#   1. test_gpu_fwd_cskip, test_gpu_masks (_nofwdnc3, _fwdband), test_gpu_jvp_persist (_nopackedband, _fwdband),
#      test_ring_gpu (its entries: packed sequences on multiples of 128 rows, the JVP's band in the ring's partial
#      calls), test_gpu_nan (packed sequences on variant 34 by default now; 1e7ee1d's alignments);
#   2. A / B (jfa_bench, two rounds): the forward as a band (JFA_SM90_FWD_BAND=1) against its masked kernels (the
#      default) on a causal window of 2048 at N = 16384, D = 64 and 128, and on 8 packed sequences of 2048 at D = 128
#      (aligned to its 128-row tiles); the JVP at D = 128 on the persistent kernel (JFA_SM90_JVP_PERSIST=1) against
#      fwd.cuh's (the default) on the same window and packed sequences; the backward of the packed sequences, D = 64 /
#      128 (the ratio to plain causal N = 16384 of call 1);
#   3. issue 18's table from one process against the Triton package and SDPA (bench_lanes.py).
# DL: the deadline (default 560). Logs in $OUT.   DL=560 bash bench/device/run_s27b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s27b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-560}
B=build-s27b
JFA_H200_TARGETS="jfa jfa_bench test_gpu_fwd_cskip test_gpu_masks test_gpu_nan test_gpu_jvp_persist test_ring_gpu" \
  jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
(cd $B && timeout $(left 400) ctest -R \
  "^test_gpu_(fwd_cskip|masks|masks_nofwdnc3|masks_fwdband|jvp_persist|jvp_persist_nopackedband|jvp_persist_fwdband|nan)$|^test_ring_gpu" \
  -E 64bit -j6 --timeout 200 --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Passed" "$OUT/ctest.log" | head -10; grep '^\[FAIL\]' "$OUT/ctest.log" | head
echo "t=$(( $(date +%s) - T0 ))"
{
  for r in 1 2; do
    for e in "JFA_SM90_FWD_BAND=1" "JFA_X=0"; do
      for d in 64 128; do
        env $e timeout $(left 240) $JFA_BENCH --window 16384 $d 2048 | grep -e ^fwd | sed "s/^/[$e window D=$d] /"
      done
      env $e timeout $(left 240) $JFA_BENCH --varlen 8 2048 128 | grep -e ^fwd | sed "s/^/[$e varlen D=128] /"
    done
    for e in "JFA_SM90_JVP_PERSIST=1" "JFA_X=0"; do
      env $e timeout $(left 240) $JFA_BENCH --window 16384 128 2048 | grep -e ^jvp | sed "s/^/[$e window D=128] /"
      env $e timeout $(left 240) $JFA_BENCH --varlen 8 2048 128 | grep -e ^jvp -e ^bwd | sed "s/^/[$e varlen D=128] /"
    done
    timeout $(left 240) $JFA_BENCH --varlen 8 2048 64 | grep -e ^bwd | sed "s/^/[varlen D=64] /"
    timeout $(left 240) $JFA_BENCH --causal 16 1024 64 | grep -e ^jvp | sed "s/^/[causal 16x1024 D=64] /"
  done
} 2>&1 | tee "$OUT/ab.log"
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L="bfloat16:64:4096:none,bfloat16:96:4096:none,bfloat16:128:4096:none,bfloat16:192:4096:none,bfloat16:256:4096:none"
L="$L,bfloat16:128:4096:dense,bfloat16:128:16384:causal,bfloat16:128:16384:window2048"
L="$L,bfloat16:64:16384:causal,bfloat16:64:16384:window2048"
timeout $(left 3) python3 bench/bench_lanes.py --iters 7 --lanes $L --triton-path .seed > "$OUT/lanes18.log" 2>&1
grep -v Warning "$OUT/lanes18.log" | grep -v "^#   " | tail -45; echo "t=$(( $(date +%s) - T0 ))"
