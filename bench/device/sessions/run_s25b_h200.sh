#!/bin/bash
# run_s25b_h200.sh - the twenty-fifth session's second call (from the repository root): one default build of every
# head dim (-Werror), then
#   1. A / B of this session's two D = 64 window routes, per call, in alternation (JFA_SM90_FWD_NC3 and
#      JFA_SM90_BWD_BAND both 1 = the new defaults / both 0 = the routes before): the forward of a window without
#      packed sequences on variant 34's persistent three-consumer kernel (tiles.h MASKP), the backward's bands
#      (windows, packed sequences aligned to its blocks) on its unmasked 128-row kernel (tiles.h sm90_bwd_band_on);
#      a causal window of 2048 at N = 16384 and 8 packed sequences of 2048, plain causal N = 16384 for scale;
#   2. the default GPU suite (`ctest -L gpu -E 64bit`: the 58 entries with this session's _nofwdnc3 pair and
#      _nobwdband);
#   3. the window / causal lanes of issue 18 through PyTorch (bench_lanes.py, batch 1 and 8).
# DL: the deadline (default 570). Logs in $OUT.   DL=570 bash bench/device/run_s25b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s25b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-570}
B=build-s25b
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
{
  for v in 1 0 1 0; do
    echo "== D = 64, JFA_SM90_FWD_NC3=$v JFA_SM90_BWD_BAND=$v"
    JFA_SM90_FWD_NC3=$v JFA_SM90_BWD_BAND=$v JFA_BENCH_TIMEOUT=$(left 300) jfa_bench_rows --window 16384 64 2048 | grep -v ^jvp
    JFA_SM90_FWD_NC3=$v JFA_SM90_BWD_BAND=$v JFA_BENCH_TIMEOUT=$(left 300) jfa_bench_rows --varlen 8 2048 64 | grep -v ^jvp
  done
  echo "== D = 64 causal"
  JFA_BENCH_TIMEOUT=$(left 300) jfa_bench_rows --causal 1 16384 64
} 2>&1 | tee "$OUT/ab.log"
echo "t=$(( $(date +%s) - T0 ))"
jfa_gpu_suite $B "$OUT/ctest.log" 75
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L="bfloat16:64:16384:causal,bfloat16:64:16384:window2048,bfloat16:128:16384:causal,bfloat16:128:16384:window2048"
for bt in 1 8; do
  timeout $(left 3) python3 bench/bench_lanes.py --iters 7 --batch $bt --lanes $L > "$OUT/lanes_b$bt.log" 2>&1
  grep -v Warning "$OUT/lanes_b$bt.log" | grep -v "^#   " | tail -8
done
echo "t=$(( $(date +%s) - T0 ))"
