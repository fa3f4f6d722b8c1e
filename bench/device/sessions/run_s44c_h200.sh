#!/bin/bash
# run_s44c_h200.sh - the forty-fourth session's last call (from the repository root): this session's Python changes
# (the drop-in's contiguous output, integer window sides and offsets, the ring dropping empty sequences) on the GPU
# and under torch 2.11: libjfa only (JFA_H200_TARGETS=jfa), then test_python_gpu and the NCCL torchrun test (P = 1:
# ring_worker's new packing through _ring.py on a GPU) beside the Python CPU tests (run_s43c_h200.sh).
#   DL=330 bash bench/device/sessions/run_s44c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s44c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-330}
B=build-py
JFA_H200_TARGETS=jfa jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
nvidia-smi --query-gpu=name --format=csv,noheader
OUT="$OUT/s43c" DL=$(left 10) bash bench/device/sessions/run_s43c_h200.sh > "$OUT/s43c.txt" 2>&1 &
(cd $B && timeout $(left 15) ctest -V --timeout 300 -R '^test_python_gpu$|^test_python_torchrun_nccl_p1$') \
  > "$OUT/python_gpu.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run|Test +#| passed| failed" "$OUT/python_gpu.log" | tail -8
grep -E "N \+ 6 sequences|FAIL" "$OUT/python_gpu.log" | head -6
echo "t=$(( $(date +%s) - T0 ))"
wait
cat "$OUT/s43c.txt"
echo "t=$(( $(date +%s) - T0 ))"
