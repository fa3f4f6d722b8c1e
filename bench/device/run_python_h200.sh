#!/bin/bash
# run_python_h200.sh - one device call for the Python binding on the H200: build
# (sm_90, NCCL from the nvidia.nccl Python package), the Python GPU tests
# (ctest test_python_gpu, the torchrun ring with jfa's NCCL communicator), then
# bench/bench_torch.py (Python overhead against the C benchmark, PyTorch SDPA).
# Logs under $OUT; the summary is printed last.
#
#   bash bench/device/run_python_h200.sh   (SKIP_BENCH=1 to leave out the benchmark)
set -u
OUT=${OUT:-/tmp/jfa_py}
mkdir -p "$OUT"
. bench/device/h200_build.sh
B=${BUILD_DIR:-build-h200}
jfa_h200_build "$B" "$OUT/build.log" || { echo "BUILD FAILED"; tail -40 "$OUT/build.log"; exit 1; }
grep BUILD_WALL "$OUT/build.log"
( cd "$B" && timeout 900 ctest -R "${PY_TESTS:-test_python}" --output-on-failure ) > "$OUT/python_tests.log" 2>&1
echo "python tests rc=$?"
grep -E "tests passed|tests failed|Test #|passed|failed|skipped|Not Run" "$OUT/python_tests.log" | tail -25
if [ -z "${SKIP_BENCH:-}" ]; then
  JFA_LIBRARY="$B/libjfa.so" timeout 400 python3 bench/bench_torch.py "$B/bench/jfa_bench" \
    --cases "${CASES:-4096:128:0,4096:128:1,4096:64:0}" --iters "${ITERS:-30}" > "$OUT/bench_torch.log" 2>&1
  echo "bench rc=$?"
  cat "$OUT/bench_torch.log"
fi
