#!/bin/bash
# run_s30b_h200.sh - the thirtieth session's second call (from the repository root): where the time of two lanes
# below their ceilings goes, by ncu (clocks left alone, one launch each, stall reasons per issued instruction):
#   - the 16-bit forward at D = 128, N = 4096, with a random half boolean mask (1, 1, N, N) against unmasked (the
#     dense lane's forward runs at ~half of the unmasked kernel's rate per pair computed), and the backward of both;
#   - the float32 forward at D = 128 and 64, N = 4096, 3xTF32 (51-56% of the 3xTF32 ceiling).
#   DL=300 bash bench/device/run_s30b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s30b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-300}
B=build-s30b
JFA_H200_TARGETS=jfa_bench jfa_build_step $B "$OUT/build.log" -DJFA_HEAD_DIMS="64;128" -DJFA_BUILD_TESTS=OFF
{
  $JFA_BENCH --dense 4096 128
  $JFA_BENCH --nomask 4096 128
  $JFA_BENCH --case 4096 128 0 fp32 --case 4096 64 0 fp32
} 2>&1 | grep -v "^#" | tee "$OUT/rates.log"
STALL='regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio'
prof() { # name kernel-regex args...
  local name=$1 k=$2
  shift 2
  JFA_BENCH_ITERS=1 timeout $(left 10) ncu --clock-control none -k "regex:$k" --launch-skip 1 --launch-count 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section WarpStateStats --section LaunchStats \
    --section Occupancy --section MemoryWorkloadAnalysis --metrics "$STALL" $JFA_BENCH "$@" > "$OUT/ncu_$name.log" 2>&1
  echo "== ncu $name"
  grep -E "Duration|Compute \(SM\) Throughput|DRAM Throughput|Issue Slots Busy|Executed Ipc A|Registers Per|Local Memory Spill|L2 Hit|Warp Cycles Per Issued" "$OUT/ncu_$name.log" | head -12
  grep -E "issue_stalled_.*ratio" "$OUT/ncu_$name.log" | awk '$NF+0 > 0.15' | sed 's/smsp__average_warps_issue_stalled_//' | head -12
}
prof dense_fwd fwd_sm90a --dense 4096 128
prof nomask_fwd fwd_sm90a --nomask 4096 128
prof dense_bwd bwd_sm90a --dense 4096 128
prof nomask_bwd bwd_sm90a --nomask 4096 128
prof f32_fwd128 fwd_f32_sm90a --case 4096 128 0 fp32
prof f32_fwd64 fwd_f32_sm90a --case 4096 64 0 fp32
echo "t=$(( $(date +%s) - T0 ))"
