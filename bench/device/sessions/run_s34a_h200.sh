#!/bin/bash
# run_s34a_h200.sh - the next session's first call (from the repository root), what the thirty-third session could
# not run: the Python GPU tests of packed sequences and torch.compile (test_compile's varlen under
# mode="reduce-overhead", written after that session's device time was spent), then sessions/run_s31a_h200.sh's diagnostics:
# whether test_gpu_streams fails on the workspace code before 749ed32 (s31_old_workspace.patch: it should, in cases
# 0-2, most runs), ncu of the dense-mask and float32 forwards (where their time goes), and the arch-80-only build's
# float32 backward (no SPLIT tiles where only compute_80 PTX exists).
#   DL=590 bash bench/device/run_s34a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s34a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-s34
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
JFA_LIBRARY=$PWD/$B/libjfa.so timeout $(left 400) python3 tests/python/run_pytest.py gpu -k "varlen or compile" \
  -p no:warnings > "$OUT/py.log" 2>&1
echo "python rc=$?"
grep -E "passed|failed|FAILED|Error" "$OUT/py.log" | tail -8
echo "t=$(( $(date +%s) - T0 ))"
{
  rm -rf /tmp/s31old && mkdir -p /tmp/s31old && cp -r CMakeLists.txt cmake include src tests apps bench python launch \
    examples tools /tmp/s31old/ 2>/dev/null
  (cd /tmp/s31old && patch -p1 -s < bench/device/s31_old_workspace.patch) &&
    cmake -S /tmp/s31old -B /tmp/s31old/b -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90 -DJFA_HEAD_DIMS="64;128" \
      ${NCCL_ROOT:+-DNCCL_ROOT=$NCCL_ROOT} > /dev/null &&
    timeout $(left 300) cmake --build /tmp/s31old/b -j16 --target test_gpu_streams > /dev/null &&
    LIMIT=$(left 280) jfa_run /tmp/s31old/b/tests/gpu/test_gpu_streams
} > "$OUT/streams_old.log" 2>&1
grep -E "FAIL|passed|rc=" "$OUT/streams_old.log" | head -12
echo "t=$(( $(date +%s) - T0 ))"
jfa_ncu dense_fwd fwd_sm90a --dense 4096 128
jfa_ncu nomask_fwd fwd_sm90a --nomask 4096 128
jfa_ncu f32_fwd128 fwd_f32_sm90a --case 4096 128 0 fp32
echo "t=$(( $(date +%s) - T0 ))"
{
  cmake -S . -B build-s34-arch80 -G Ninja -DCMAKE_CUDA_ARCHITECTURES=80 -DJFA_HEAD_DIMS="64;128" -DJFA_ENABLE_SM90A=OFF \
    ${NCCL_ROOT:+-DNCCL_ROOT=$NCCL_ROOT} > /dev/null &&
    timeout $(left 60) cmake --build build-s34-arch80 -j16 --target test_gpu_f32_backward > /dev/null &&
    LIMIT=$(left 30) jfa_run build-s34-arch80/tests/gpu/test_gpu_f32_backward
} > "$OUT/arch80.log" 2>&1
grep -E "FAIL|passed|rc=|trap|illegal" "$OUT/arch80.log" | head -12
echo "t=$(( $(date +%s) - T0 ))"
