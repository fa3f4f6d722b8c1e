#!/bin/bash
# run_s18a_h200.sh - the first call after the seventeenth session (from the repository root; .seed carried): the whole
# GPU suite at that session's last kernels (923ee28's bias pass ran only the suites it reaches), then what bounds
# float32's additive-mask backward (0.85x the Triton package: not its bias loads, seventeenth session call 4).
# One default build of every head dim (-Werror; ~55 s), then, each step bounded by the deadline DL (default 540):
#   1. `ctest -L gpu -E 64bit` (-j8);
#   2. ncu (--clock-control none) on sm80's float32 masked backward (bwd_f32_kernel) of the bias lane at N = 2048:
#      SpeedOfLight, Occupancy, WarpStateStats, SchedulerStats, InstructionStats; and on the unmasked one for contrast
#      (JFA_SM90_F32_BWD=0: sm80's kernel for both);
#   3. bench_lanes.py bias and dense lanes against the package (bf16 D = 128, float32 D = 64).
# Logs in $OUT.   bash bench/device/run_s18a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s18a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-540}
B=build-s18a
jfa_h200_build $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON || jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 300) ctest -L gpu -j8 --timeout 240 --output-on-failure -E 64bit) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30
grep '^\[FAIL\]' "$OUT/ctest.log" | head -10; echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
for m in bias none; do
  echo "== ncu bwd_f32_kernel, float32 D = 64 N = 2048, mask $m"
  JFA_SM90_F32_BWD=0 timeout $(left 150) ncu --clock-control none --kernel-name regex:bwd_f32_kernel --launch-skip 1 --launch-count 1 \
    --section SpeedOfLight --section Occupancy --section WarpStateStats --section SchedulerStats \
    --section InstructionStats python3 bench/bench_lanes.py --iters 1 --tokens 8192 --f32-precision highest \
    --lanes float32:64:2048:$m > "$OUT/ncu_$m.log" 2>&1
  echo "rc=$?"
  grep -E "Duration|Compute \(SM\) Throughput|Memory Throughput|Registers Per|Achieved Occupancy|Stall|Issued Ipc|Executed Instructions  " \
    "$OUT/ncu_$m.log" | head -24
done 2>&1 | tee "$OUT/ncu.log"
timeout $(left 0) python3 bench/bench_lanes.py --iters 5 --triton-path .seed --f32-precision highest,high \
  --lanes bfloat16:128:4096:bias,bfloat16:128:4096:dense,float32:64:4096:bias,float32:64:4096:dense 2>&1 |
  tee "$OUT/lanes.log"
echo "t=$(( $(date +%s) - T0 ))"
