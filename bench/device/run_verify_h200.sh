#!/bin/bash
# run_verify_h200.sh - the verification call on one H200 (from the repository root):
# build (sm_90, NCCL from the nvidia.nccl package, the Python tests on python3),
# every GPU test (ctest -L gpu: kernels, masks, tangent accuracy, GPU ring with MPI,
# the Python binding on CUDA, the torchrun ring with jfa's NCCL communicator),
# compute-sanitizer memcheck/racecheck on small masked and tangent cases, then the
# benchmarks: jfa_bench (N = 4096), the mask benchmarks, and bench_torch.py (the
# Python binding against the C benchmark and PyTorch). At most 8 log files in $OUT;
# the summary is printed last.
#
#   bash bench/device/run_verify_h200.sh     (SKIP_BENCH=1 / SKIP_SAN=1 to shorten)
set -u
OUT=${OUT:-/tmp/jfa_verify}
mkdir -p "$OUT"
. bench/device/h200_build.sh
START=$(date +%s)
B=build-h200
jfa_h200_build $B "$OUT/build.log" || { echo "BUILD FAILED"; tail -40 "$OUT/build.log"; exit 1; }
(cd $B && timeout 420 ctest -L gpu --output-on-failure --timeout 400) > "$OUT/ctest_gpu.log" 2>&1
echo "ctest -L gpu rc=$?" >> "$OUT/ctest_gpu.log"
if [ -z "${SKIP_SAN:-}" ]; then
  {
    # shellcheck disable=SC2086
    for t in "test_gpu_masks 13" "test_gpu_masks 20" "test_gpu_tangent 0" "test_gpu_attention 8"; do
      jfa_sanitize memcheck 90 $t
    done
    jfa_sanitize racecheck 90 test_gpu_masks 13
  } > "$OUT/sanitizer.log" 2>&1
fi
if [ -z "${SKIP_BENCH:-}" ]; then
  J=$JFA_BENCH
  { $J --case 4096 128 0 | head -1 # the header
    # shellcheck disable=SC2086
    for c in "4096 128 0" "4096 128 1" "4096 64 0" "4096 64 1"; do jfa_bench_rows --case $c; done
    echo "# masks: bf16, D = 128, H = 16"
    JFA_BENCH_ITERS=10 JFA_BENCH_TIMEOUT=120 jfa_bench_rows --window 65536 128 4096
    JFA_BENCH_TIMEOUT=90 jfa_bench_rows --causal 8 8192 128
    JFA_BENCH_ITERS=10 JFA_BENCH_TIMEOUT=120 jfa_bench_rows --varlen 16 4096 128
    JFA_BENCH_ITERS=10 JFA_BENCH_TIMEOUT=120 jfa_bench_rows --batch 16 4096 128
    JFA_BENCH_TIMEOUT=60 jfa_bench_rows --dense 4096 128
    JFA_BENCH_TIMEOUT=60 jfa_bench_rows --nomask 4096 128
  } > "$OUT/bench.log" 2>&1
  JFA_LIBRARY=$B/libjfa.so timeout 300 python3 bench/bench_torch.py $J --cases 4096:128:0,4096:128:1,4096:64:0 \
    --iters 30 > "$OUT/bench_torch.log" 2>&1
fi
echo "===== SUMMARY ($(( $(date +%s) - START )) s)"
grep BUILD_WALL "$OUT/build.log"
grep -E "Test +#|tests passed|tests failed|ctest -L gpu rc" "$OUT/ctest_gpu.log"
grep -E "\[FAIL\]|FAILED|passed, [0-9]+ failed" "$OUT/ctest_gpu.log" | head -30
[ -f "$OUT/sanitizer.log" ] && grep -E "==|ERROR SUMMARY|rc=" "$OUT/sanitizer.log"
[ -f "$OUT/bench.log" ] && cat "$OUT/bench.log"
[ -f "$OUT/bench_torch.log" ] && cat "$OUT/bench_torch.log"
exit 0
