#!/bin/bash
# run_merge_h200.sh - the device calls that verify a merge of new kernel families on one H200
# (from the repository root; 2026-12-02: float32 on TF32 tensor cores, head dims to 256, masks by
# block class, the tensor-core backward-JVP, the ring's fused calls, vmap rules). Two parts, each
# bounded (under 600 s with the build), logs in $OUT, summary last:
#   PART=test   build (-Werror), every GPU test but the 64-bit ones (ctest -j4), the Python GPU
#               tests, the torch >= 2 tests that a CPU machine with torch 1.13 skips (vmap,
#               second order, float32 precision), torch.compile without the slow marker
#   PART=bench  bench_lanes.py (float32 in both precisions, D = 96..256, masks; Triton from .seed),
#               jfa_bench rows of the main lane (bf16 D = 64 / 128, regression check), the
#               second-order benchmark, the float32 training step, compute-sanitizer memcheck on
#               one case of each new kernel, the ring's overhead profile (short)
#   PART=last   (about 330 s) the float32 and vmap tests again, then the lanes, three jfa_bench rows, one
#               second-order row and the float32 training step
#   PART=test|bench|last bash bench/device/run_merge_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_merge}
mkdir -p "$OUT"
. bench/device/h200_build.sh
START=$(date +%s)
B=build-h200
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
jfa_h200_build $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON || {
  echo "BUILD FAILED"; grep -B2 -A12 -E "error|FAILED" "$OUT/build.log" | head -80; exit 1; }
grep BUILD_WALL "$OUT/build.log"
PY="env PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so python3"
left() { echo $(( ${1} - ($(date +%s) - START) )); }
if [ "${PART:-test}" = test ]; then
  (cd $B && timeout "$(left 330)" ctest -L gpu -E "64bit|python|torchrun" -j4 --output-on-failure --timeout 240) \
    > "$OUT/ctest_gpu.log" 2>&1
  echo "ctest rc=$? at $(( $(date +%s) - START )) s"
  grep -E "tests passed|tests failed|\*\*\*|Not Run" "$OUT/ctest_gpu.log" | head -40
  grep -E "^\[FAIL\]" "$OUT/ctest_gpu.log" | sort | uniq -c | sort -rn | head -40
  { timeout "$(left 400)" $PY -m pytest tests/python -q -p no:cacheprovider -m "gpu and not slow" -rs \
      --ignore=tests/python/test_compile.py
    echo "python gpu rc=$?"
    timeout "$(left 450)" $PY -m pytest tests/python/test_vmap.py tests/python/test_second_order.py -q \
      -p no:cacheprovider -m "not gpu and not slow" -rs
    echo "python torch2 cpu rc=$?"
  } > "$OUT/python.log" 2>&1
  echo "python at $(( $(date +%s) - START )) s"
  grep -E "passed|failed|FAILED|Error| rc=" "$OUT/python.log" | tail -25
  timeout "$(left 570)" $PY -m pytest tests/python/test_compile.py -q -p no:cacheprovider -m "not slow" -x \
    --durations=5 > "$OUT/compile.log" 2>&1
  echo "compile rc=$? at $(( $(date +%s) - START )) s"
  grep -E "passed|failed|FAILED|Error|s call" "$OUT/compile.log" | tail -12
elif [ "${PART}" = last ]; then
  # the session's last call (what device time was left): the float32 and vmap tests after their
  # fixes, then the lanes, the main lane's rows, the second-order and float32 training-step rows
  (cd $B && timeout 40 ctest -R "test_gpu_f32" -j5 --output-on-failure --timeout 35) > "$OUT/ctest_gpu.log" 2>&1
  echo "ctest f32 rc=$? at $(( $(date +%s) - START )) s"
  grep -E "tests passed|tests failed|\*\*\*" "$OUT/ctest_gpu.log" | head; grep -E "^\[FAIL\]" "$OUT/ctest_gpu.log" | head -20
  timeout 50 $PY -m pytest tests/python/test_vmap.py tests/python/test_second_order.py -q -p no:cacheprovider \
    -m "not slow" > "$OUT/python.log" 2>&1
  echo "python vmap/second order rc=$? at $(( $(date +%s) - START )) s"; tail -3 "$OUT/python.log"
  timeout 110 $PY bench/bench_lanes.py --iters 5 --triton-path .seed --lanes \
    "float32:64:2048:none,float32:128:2048:none,bfloat16:256:4096:none,bfloat16:192:4096:none,bfloat16:96:4096:none,bfloat16:128:4096:dense,bfloat16:128:16384:window2048,bfloat16:128:16384:causal" \
    > "$OUT/lanes.log" 2> "$OUT/lanes.err"
  echo "lanes rc=$? at $(( $(date +%s) - START )) s"
  { for c in "4096 128 0" "4096 64 0" "4096 64 1"; do JFA_BENCH_TIMEOUT=15 jfa_bench_rows --case $c; done
  } > "$OUT/bench.log" 2>&1
  timeout 25 $PY bench/bench_second_order.py --cases 4096:128:0 --iters 3 > "$OUT/second_order.log" 2>&1
  timeout 45 $PY bench/train_step.py --device cuda --dtypes float32 --batch 4 --seq 2048 --width 1024 \
    --heads 8 --depth 4 --iters 3 --triton-path .seed --format md > "$OUT/train_step.log" 2>&1
  echo "end at $(( $(date +%s) - START )) s"
else
  timeout "$(left 190)" $PY bench/bench_lanes.py --iters 5 --triton-path .seed --lanes \
    "float32:64:2048:none,float32:128:2048:none,float32:128:4096:causal,bfloat16:256:4096:none,bfloat16:192:4096:none,bfloat16:160:4096:none,bfloat16:96:4096:none,bfloat16:128:4096:none,bfloat16:128:4096:dense,bfloat16:128:16384:window2048,bfloat16:128:16384:causal" \
    > "$OUT/lanes.log" 2> "$OUT/lanes.err"
  echo "lanes rc=$? at $(( $(date +%s) - START )) s"
  { for c in "4096 128 0" "4096 128 1" "4096 64 0" "16384 128 1"; do JFA_BENCH_TIMEOUT=20 jfa_bench_rows --case $c; done
  } > "$OUT/bench.log" 2>&1
  timeout "$(left 280)" $PY bench/bench_second_order.py --cases 4096:64:0,4096:128:0 --iters 3 \
    > "$OUT/second_order.log" 2>&1
  echo "second order rc=$? at $(( $(date +%s) - START )) s"
  timeout "$(left 370)" $PY bench/train_step.py --device cuda --dtypes float32 --batch 4 --seq 2048 --width 1024 \
    --heads 8 --depth 4 --iters 5 --triton-path .seed --format md > "$OUT/train_step.log" 2>&1
  echo "train step rc=$? at $(( $(date +%s) - START )) s"
  { for t in "test_gpu_f32 3" "test_gpu_f32_backward 1" "test_gpu_backward_jvp 19" "test_gpu_attention 36" \
      "test_gpu_blockmask 0"; do
      # shellcheck disable=SC2086
      JFA_SAN_TAIL=1 jfa_sanitize memcheck 40 $t
    done
  } > "$OUT/sanitizer.log" 2>&1
  echo "sanitizer at $(( $(date +%s) - START )) s"
  [ "$(left 520)" -gt 60 ] && OUT=$OUT/ring BUDGET=$(( $(left 520) - 20 )) P2=0 MODES="direct accumulate" \
    bash bench/device/run_ring_overhead_h200.sh > "$OUT/ring.log" 2>&1
fi
echo "===== SUMMARY ($(( $(date +%s) - START )) s)"
[ -f "$OUT/lanes.log" ] && cat "$OUT/lanes.log" && grep -v "^#   " "$OUT/lanes.err" | tail -5
[ -f "$OUT/bench.log" ] && cat "$OUT/bench.log"
[ -f "$OUT/second_order.log" ] && tail -12 "$OUT/second_order.log"
[ -f "$OUT/train_step.log" ] && grep -v Warning "$OUT/train_step.log" | tail -12
[ -f "$OUT/sanitizer.log" ] && grep -E "==|ERROR SUMMARY|rc=" "$OUT/sanitizer.log"
[ -f "$OUT/ring/summary.log" ] && head -60 "$OUT/ring/summary.log"
exit 0
