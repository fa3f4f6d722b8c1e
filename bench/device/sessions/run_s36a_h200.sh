#!/bin/bash
# run_s36a_h200.sh - the first call after the thirty-fifth session (from the repository root): what it changed and
# could not run, most important first. Default build of every head dim (-Werror); test_gpu_masks case 79 ten times
# (0d09208's zero-filled bias rows; the map pass now fills shared memory with a new pattern before each call: expected
# to pass every run); test_gpu_modes and test_gpu_f32_backward (their deterministic repeats now on poisoned shared
# memory); the Python GPU mask tests (the per-forward map now reaching the backward: test_mask_map_per_forward); then
# the test_gpu_masks family (run_suite_part_h200.sh's PART=1) in the time left.
#   DL=580 bash bench/device/run_s36a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s36a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-580}
B=build-suite
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
nf=0
for i in 1 2 3 4 5 6 7 8 9 10; do
  timeout $(left 400) $B/tests/gpu/test_gpu_masks 79 > "$OUT/c79.log" 2>&1 || { nf=$((nf + 1)); grep -E "^\[FAIL\]" "$OUT/c79.log" | cut -c1-170; }
done
echo "case 79: $nf of 10 runs failed; t=$(( $(date +%s) - T0 ))"
for t in test_gpu_modes test_gpu_f32_backward; do
  LIMIT=$(left 380) jfa_run $B/tests/gpu/$t > "$OUT/$t.log" 2>&1
  echo "$t: $(grep -c '^\[PASS\]' "$OUT/$t.log") passed, $(grep -c '^\[FAIL\]' "$OUT/$t.log") failed"
  grep -E "^\[FAIL\]" "$OUT/$t.log" | head -6
done
echo "t=$(( $(date +%s) - T0 ))"
JFA_LIBRARY=$PWD/$B/libjfa.so timeout $(left 350) python3 tests/python/run_pytest.py gpu -k "mask" -p no:warnings \
  > "$OUT/py.log" 2>&1
echo "python rc=$?"; grep -E "passed|failed|FAILED|Error" "$OUT/py.log" | tail -6
echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 15) ctest -L gpu -j8 --timeout 500 --output-on-failure -R '^test_gpu_masks' -E 64bit) \
  > "$OUT/suite_masks.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/suite_masks.log" | head -16
grep '^\[FAIL\]' "$OUT/suite_masks.log" | sort | uniq -c | sort -rn | head -12
grep -hE "^  \(case [0-9]+ took" "$OUT/suite_masks.log" | sed 's/.*(case \([0-9]*\) took \([0-9.]*\) s)/\2 s case \1/' |
  sort -rn | head -8
echo "t=$(( $(date +%s) - T0 ))"
