#!/bin/bash
# run_hopper_h200.sh - the sm90 family (Hopper kernels) on one H200 (from the repository root): build
# (sm_90 plus the sm_90a objects), check that the sm_90a code holds wgmma (HGMMA in SASS),
# run the GPU tests on both dispatch paths (the default, and JFA_KERNEL_PATH=sm80),
# compute-sanitizer memcheck / racecheck / synccheck on small Hopper cases, then jfa_bench
# on both paths and, with TORCH=1, the default sweep against PyTorch's cuDNN and flash
# backends (bench/compare_torch.py). Logs in $OUT; the summary is printed last.
#
#   bash bench/device/run_hopper_h200.sh   TESTS="regex" (default: every gpu test)
#   SKIP_SAN=1, SKIP_BENCH=1, TORCH=1, NCU=1 (ncu on the D = 128 forward and JVP)
set -u
OUT=${OUT:-/tmp/jfa_hopper}
mkdir -p "$OUT"
. bench/device/h200_build.sh
START=$(date +%s)
B=build-h200
jfa_h200_build $B "$OUT/build.log" || { echo "BUILD FAILED"; tail -40 "$OUT/build.log"; exit 1; }
{
  echo "HGMMA instructions in the sm_90a objects:"
  for o in $(find $B/CMakeFiles/jfa_sm90a.dir -name "*.o"); do
    echo "$(basename $o): $(cuobjdump -sass $o 2>/dev/null | grep -c HGMMA)"
  done
} > "$OUT/sass.log" 2>&1
(cd $B && timeout 480 ctest -L gpu ${TESTS:+-R "$TESTS"} --output-on-failure --timeout 400) > "$OUT/ctest_gpu.log" 2>&1
echo "ctest rc=$?" >> "$OUT/ctest_gpu.log"
if [ -z "${SKIP_SAN:-}" ]; then
  {
    for tool in memcheck racecheck synccheck; do
      for c in 3 4; do jfa_sanitize "$tool" 120 test_gpu_attention "$c"; done
    done
  } > "$OUT/sanitizer.log" 2>&1
fi
if [ -z "${SKIP_BENCH:-}" ]; then
  J=$JFA_BENCH
  { for path in auto sm80; do
      echo "# JFA_KERNEL_PATH=$path"
      for c in "4096 128 0" "4096 128 1" "4096 64 0" "4096 64 1" "16384 128 0"; do
        # shellcheck disable=SC2086
        JFA_KERNEL_PATH=$path jfa_bench_rows --case $c
      done
    done
  } > "$OUT/bench.log" 2>&1
  if [ -n "${TORCH:-}" ]; then
    timeout 400 python3 bench/compare_torch.py $J > "$OUT/torch.log" 2>&1
  fi
  if [ -n "${NCU:-}" ]; then
    timeout 200 ncu --clock-control none -k regex:fwd_sm90a --launch-count 2 \
      --section SpeedOfLight --section ComputeWorkloadAnalysis --section Occupancy \
      $J --case 4096 128 0 > "$OUT/ncu.log" 2>&1
  fi
fi
echo "===== SUMMARY ($(( $(date +%s) - START )) s)"
grep BUILD_WALL "$OUT/build.log"
cat "$OUT/sass.log"
grep -E "Test +#|tests passed|tests failed|ctest rc" "$OUT/ctest_gpu.log"
grep -E "\[FAIL\]|FAILED|Error|error" "$OUT/ctest_gpu.log" | head -30
[ -f "$OUT/sanitizer.log" ] && grep -E "==|ERROR SUMMARY|rc=" "$OUT/sanitizer.log"
[ -f "$OUT/bench.log" ] && cat "$OUT/bench.log"
[ -f "$OUT/torch.log" ] && cat "$OUT/torch.log"
[ -f "$OUT/ncu.log" ] && grep -E "fwd_sm90a|Throughput|Duration|Registers|Achieved Occupancy|Executed Ipc" "$OUT/ncu.log" | head -40
exit 0
