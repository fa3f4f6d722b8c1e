#!/bin/bash
# run_s44a_h200.sh - the forty-fourth session's call (from the repository root): the build (build-suite, -Werror);
# the float32 backward case that failed in the call before (seed 1796583687614148, test_gpu_f32_backward_nosm90bwd,
# case 12 TF32 at Nq = Nk = 1) replayed with 6000651's TF32 floor; every test_gpu_f32_backward variant and
# test_python_gpu (cut off by the deadline in the call before) with fresh seeds; beside them, on the CPU, the Python
# binding's CPU tests under the device's torch 2.11 (run_s43c_h200.sh).
#   DL=500 bash bench/device/sessions/run_s44a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s44a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-500}
B=build-suite
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm --format=csv,noheader
OUT="$OUT/s43c" DL=$(left 20) bash bench/device/sessions/run_s43c_h200.sh > "$OUT/s43c.txt" 2>&1 &
(cd $B && JFA_TEST_SEED=1796583687614148 timeout 120 ctest -R '^test_gpu_f32_backward_nosm90bwd$' --output-on-failure) \
  > "$OUT/seed_replay.log" 2>&1
grep -E "tests passed|seed|^\[FAIL\]" "$OUT/seed_replay.log" | head -8
grep -A40 "^case 12:" "$OUT/seed_replay.log" | grep -E "rel err|TF32 d" | head -12
echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 30) ctest -L gpu -j8 --timeout 400 --output-on-failure -R '^test_gpu_f32_backward|^test_python_gpu$') \
  > "$OUT/f32_python_gpu.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run|Test +#" "$OUT/f32_python_gpu.log" | head -40
grep '^\[FAIL\]' "$OUT/f32_python_gpu.log" | sort | uniq -c | sort -rn | head -20
echo "t=$(( $(date +%s) - T0 ))"
wait
cat "$OUT/s43c.txt"
echo "t=$(( $(date +%s) - T0 ))"
