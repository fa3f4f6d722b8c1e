#!/bin/bash
# run_s43c_h200.sh - the forty-third session's last call (from the repository root): the Python binding's CPU tests
# (run_pytest.py cpu: every test but the gpu-marked ones) under the device's torch 2.11, whose torch.func paths
# (jvp(grad(f)), vmap rules, setup_context) this machine's torch 1.13 skips; the second order changed this session
# (the saved masks, the jvp rules' graph). A CPU-only build of the library (no CUDA kernels: seconds).
#   DL=250 bash bench/device/sessions/run_s43c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s43c}
mkdir -p "$OUT"
T0=$(date +%s)
echo "tree $(git rev-parse --short HEAD 2>/dev/null) (stale on the device copy: name the commit sent)"
cmake -S . -B build-cpuonly -G Ninja -DJFA_ENABLE_CUDA=OFF -DJFA_ENABLE_MPI=OFF -DJFA_BUILD_TESTS=OFF \
  -DCMAKE_BUILD_TYPE=Release > "$OUT/cmake.log" 2>&1 && ninja -C build-cpuonly jfa > "$OUT/build.log" 2>&1
echo "build rc=$? t=$(( $(date +%s) - T0 ))"
JFA_LIBRARY=$PWD/build-cpuonly/libjfa.so PYTHONPATH=python timeout $(( ${DL:-250} - ($(date +%s) - T0) - 5 )) \
  python3 tests/python/run_pytest.py cpu -x > "$OUT/pytest_cpu.log" 2>&1
echo "pytest rc=$? t=$(( $(date +%s) - T0 ))"
grep -E "^python|passed|failed|error" "$OUT/pytest_cpu.log" | tail -5
grep -E "^FAILED|^ERROR" "$OUT/pytest_cpu.log" | head -10
