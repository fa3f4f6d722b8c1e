#!/bin/bash
# run_h200.sh - the one script a device call runs on the H200 (from the repository
# root): configure and build for sm_90, the compiler's register/spill report of the
# kernels, compute-sanitizer on small cases, `ctest -L gpu`, the benchmark and the
# PyTorch comparison. Logs go to $OUT (at most 8 files come back); the summary is
# printed last.
#
#   bash bench/device/run_h200.sh     (device call: OUT is set by the tool)
#   SKIP_TORCH=1 SKIP_TESTS=1 ...     to shorten a run
set -u
OUT=${OUT:-/tmp/jfa_h200}
mkdir -p "$OUT"
. bench/device/h200_build.sh
START=$(date +%s)
jfa_h200_build build-h200 "$OUT/build.log" -DCMAKE_CUDA_FLAGS="-Xptxas -v" ||
  cmake --build build-h200 -j16 --target test_gpu_attention test_gpu_modes test_gpu_tangent test_gpu_masks jfa_bench \
    >> "$OUT/build.log" 2>&1
BUILD_RC=$?
grep -E "BUILD_WALL|error" "$OUT/build.log" | head -20
if ! [ -x build-h200/tests/gpu/test_gpu_attention ]; then
  echo "BUILD FAILED"; tail -60 "$OUT/build.log"; exit 1
fi
# registers / spills of the kernels
grep -E "Compiling entry|registers|spill" "$OUT/build.log" | grep -B2 -E "spill stores" | \
  grep -E "entry|stack|Used" > "$OUT/ptxas.log" || true

if [ -z "${SKIP_TESTS:-}" ]; then
  {
    export JFA_SAN_TAIL=4
    for c in ${SAN_CASES:-2 8 13 15}; do jfa_sanitize memcheck 120 test_gpu_attention "$c"; done
    jfa_sanitize racecheck 120 test_gpu_attention 4
    # masks (small cases): window, packed sequences (tensor-core and fp32 SIMT), dense bool, combination
    for c in ${SAN_MASK_CASES:-0 13 19 20 22 28}; do jfa_sanitize memcheck 180 test_gpu_masks "$c"; done
    jfa_sanitize racecheck 180 test_gpu_masks 13
    jfa_sanitize memcheck 180 test_gpu_tangent 1
  } > "$OUT/sanitizer.log" 2>&1
  (cd build-h200 && timeout 400 ctest -L gpu -V --timeout 380) > "$OUT/ctest.log" 2>&1
  echo "ctest rc=$?" >> "$OUT/ctest.log"
fi
if [ -n "${QUICK:-}" ]; then
  # a few shapes only: bf16, N = 4096, D in {128, 64}, causal off/on
  { $JFA_BENCH --case 4096 128 0 | grep -v "^# "; jfa_bench_rows --case 4096 128 1
    jfa_bench_rows --case 4096 64 0; jfa_bench_rows --case 4096 64 1
  } > "$OUT/bench.log" 2>&1
else
  timeout 240 $JFA_BENCH > "$OUT/bench.log" 2>&1
fi
echo "bench rc=$?" >> "$OUT/bench.log"
if [ -z "${SKIP_MASK_BENCH:-}" ]; then
  # masks (appended to bench.log; at most 8 files come back): sliding window vs dense causal,
  # packed documents vs a batch, dense boolean mask vs unmasked
  {
    echo "# masks: bf16, D = 128, H = 16"
    JFA_BENCH_ITERS=10 JFA_BENCH_TIMEOUT=300 jfa_bench_rows --window 65536 128 4096
    JFA_BENCH_TIMEOUT=120 jfa_bench_rows --causal 1 8192 128
    JFA_BENCH_ITERS=10 JFA_BENCH_TIMEOUT=300 jfa_bench_rows --varlen 16 4096 128
    JFA_BENCH_ITERS=10 JFA_BENCH_TIMEOUT=300 jfa_bench_rows --batch 16 4096 128
    JFA_BENCH_TIMEOUT=120 jfa_bench_rows --dense 4096 128
    JFA_BENCH_TIMEOUT=120 jfa_bench_rows --nomask 4096 128
    echo "mask bench done"
  } >> "$OUT/bench.log" 2>&1
fi
if [ -n "${TUNE:-}" ]; then
  # alternative tile shapes (the tuning variants of src/kernels/sm80/tiles.h), N = 4096
  {
    JFA_H200_TARGETS=jfa_bench jfa_h200_build build-tune /tmp/jfa_tune_build.log -DJFA_TUNING=ON -DJFA_BUILD_TESTS=OFF
    for D in ${TUNE_DS:-128 64}; do for c in 0 1; do for v in ${TUNE_VS:-0 1 2}; do
      echo "# variant $v (JFA_TUNE_FWD/JVP/BWD=$v)"
      JFA_TUNE_FWD=$v JFA_TUNE_JVP=$v JFA_TUNE_BWD=$v JFA_KERNEL_PATH=sm80 JFA_BENCH_TIMEOUT=60 jfa_bench_rows --case 4096 $D $c
    done; done; done
  } > "$OUT/tune.log" 2>&1
  JFA_BENCH=build-h200/bench/jfa_bench
fi
if [ -n "${NCU:-}" ]; then
  # one launch of each main kernel under Nsight Compute (clocks left alone)
  for k in fwd_tc bwd_tc; do
    echo "== ncu $k (bf16, N = 4096, D = 128, non-causal)"
    JFA_BENCH_ITERS=1 timeout 120 ncu --clock-control none --kernel-name regex:$k --launch-skip 2 --launch-count 1 \
      --section SpeedOfLight --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section Occupancy \
      $JFA_BENCH --case 4096 128 0 2>&1 | grep -v "^fwd\|^jvp\|^bwd\|^op\|^# "
  done > "$OUT/ncu.log" 2>&1
fi
if [ -z "${SKIP_TORCH:-}" ]; then
  PYTHONUNBUFFERED=1 timeout 300 python3 bench/compare_torch.py build-h200/bench/jfa_bench > "$OUT/torch.log" 2>&1
  echo "torch rc=$?" >> "$OUT/torch.log"
fi
echo "===== SUMMARY ($(( $(date +%s) - START )) s)"
grep BUILD_WALL "$OUT/build.log"
cat "$OUT/ptxas.log" | grep -E "spill" | sort | uniq -c | head
[ -f "$OUT/sanitizer.log" ] && grep -E "==|ERROR SUMMARY|rc=" "$OUT/sanitizer.log"
[ -f "$OUT/ctest.log" ] && { grep -E "\[FAIL\]|NaN|passed, " "$OUT/ctest.log" | head -40; tail -8 "$OUT/ctest.log"; }
[ -f "$OUT/tune.log" ] && cat "$OUT/tune.log"
[ -f "$OUT/ncu.log" ] && grep -E "== ncu|Throughput|Pipe|Occupancy|Registers|Shared Memory|Duration|Issue" "$OUT/ncu.log" | head -60
cat "$OUT/bench.log"
[ -f "$OUT/torch.log" ] && cat "$OUT/torch.log"
exit 0
