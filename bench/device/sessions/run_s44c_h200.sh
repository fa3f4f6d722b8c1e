#!/bin/bash
# run_s44c_h200.sh - the forty-fourth session's last call (from the repository root): this session's Python changes
# (the drop-in's contiguous output, integer window sides and offsets, the ring dropping empty sequences) on the GPU
# and under torch 2.11: libjfa only (JFA_H200_TARGETS=jfa), then test_python_gpu and the NCCL torchrun test (P = 1:
# ring_worker's new packing through _ring.py on a GPU) beside the Python CPU test files this session changed.
#   DL=260 bash bench/device/sessions/run_s44c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s44c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-260}
B=build-py
JFA_H200_TARGETS=jfa jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
nvidia-smi --query-gpu=name --format=csv,noheader
# the CPU side: the Python test files this session changed, under torch 2.11, on a CPU-only libjfa (seconds to build)
( cmake -S . -B build-cpuonly -G Ninja -DJFA_ENABLE_CUDA=OFF -DJFA_ENABLE_MPI=OFF -DJFA_BUILD_TESTS=OFF \
    -DCMAKE_BUILD_TYPE=Release > "$OUT/cpu_cmake.log" 2>&1 && ninja -C build-cpuonly jfa > "$OUT/cpu_build.log" 2>&1 &&
  cd tests/python && JFA_LIBRARY=$PWD/../../build-cpuonly/libjfa.so PYTHONPATH=../../python OMP_NUM_THREADS=2 \
    timeout $(left 10) python3 -m pytest -q -m "not gpu" test_errors.py test_sdpa_edges.py test_ring.py test_attention.py \
    > "$OUT/pytest_cpu_changed.log" 2>&1; echo "cpu pytest rc=$?" >> "$OUT/pytest_cpu_changed.log" ) &
(cd $B && timeout $(left 15) ctest -V --timeout 300 -R '^test_python_gpu$|^test_python_torchrun_nccl_p1$') \
  > "$OUT/python_gpu.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run|Test +#| passed| failed" "$OUT/python_gpu.log" | tail -8
grep -E "N \+ 6 sequences|FAIL" "$OUT/python_gpu.log" | head -6
echo "t=$(( $(date +%s) - T0 ))"
wait
tail -3 "$OUT/pytest_cpu_changed.log"
echo "t=$(( $(date +%s) - T0 ))"
