#!/bin/bash
# run_s29c_h200.sh - the twenty-ninth session's third call (from the repository root): why the persistent 16-bit
# backward (bwd.cuh PERSIST) measured 25-37% slower on causal calls in call 1. jfa_bench only, head dims 64 and 128:
#   - D = 64 causal 8 x 2048 and 1 x 16384, and unmasked N = 8192 (causal tiles' unequal lengths against the snake, or
#     a cost every tile pays): JFA_SM90_BWD_PERSIST = 0 / 1;
#   - the persistent grid at 1x and 2x the SMs (JFA_TUNE_SM90_CTAS = 132 / 264): whether one CTA an SM is the loss;
#   - D = 128 causal 8 x 2048 and 1 x 16384: 0 / 1.
#   DL=300 bash bench/device/run_s29c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s29c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-300}
B=build-s29c
JFA_H200_TARGETS=jfa_bench jfa_build_step $B "$OUT/build.log" -DJFA_HEAD_DIMS="64;128" -DJFA_BUILD_TESTS=OFF
{
  for d in 64 128; do
    for shape in "--causal 8 2048" "--causal 1 16384" "--nomask 8192"; do
      [ "$d" = 128 ] && [ "$shape" = "--nomask 8192" ] && continue
      for env in "JFA_SM90_BWD_PERSIST=0" "JFA_SM90_BWD_PERSIST=1" "JFA_SM90_BWD_PERSIST=1 JFA_TUNE_SM90_CTAS=264"; do
        env $env timeout $(left 20) $JFA_BENCH $shape $d | grep -e ^bwd | sed "s/^/[$env $shape D=$d] /"
      done
    done
  done
} 2>&1 | tee "$OUT/ab.log"
# ncu of the D = 64 causal 8 x 2048 backward, persistent against not (one launch each, clocks left alone)
for p in 0 1; do
  JFA_SM90_BWD_PERSIST=$p JFA_BENCH_ITERS=1 timeout $(left 10) ncu --clock-control none -k regex:bwd_sm90a --launch-skip 1 \
    --launch-count 1 --section SpeedOfLight --section WarpStateStats --section SchedulerStats --section Occupancy \
    --section LaunchStats --section MemoryWorkloadAnalysis $JFA_BENCH --causal 8 2048 64 > "$OUT/ncu_p$p.log" 2>&1
  echo "== ncu PERSIST=$p"
  grep -E "Duration|Throughput|Registers|Stall|Issued Warp|No Eligible|Active Warps|Achieved Occ|Dynamic Shared|Grid Size|Block Size|Waves" "$OUT/ncu_p$p.log" | head -40
done
echo "t=$(( $(date +%s) - T0 ))"
