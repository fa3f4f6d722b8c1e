#!/bin/bash
# run_s35a_h200.sh - the thirty-fifth session's check of run_s34b's failures (from the repository root): test_gpu_masks
# case 79 (bf16 D = 256 on sm80, GQA 8:2, a 16-bit bias, bottom-right causal) failed the map pass's bitwise check in 3
# of 16 runs: ten runs of it alone with the new baseline check (the calls' own map twice: the kernels' determinism,
# apart from the map) naming the output that differs, then racecheck and memcheck of it; cases 72 / 73 (66000 batch
# entries: chunked calls, whose host-buffer map was accepted, now refused before the chunks); then the Python GPU mask
# tests (the binding's map cache and per-forward map). With APPLY=1 on s34_bmap_rows.patch (as run_s34b ran).
#   APPLY=1 DL=400 bash bench/device/run_s35a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s35a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-400}
B=build-s35a
[ "${APPLY:-0}" = 1 ] && { git apply bench/device/s34_bmap_rows.patch && echo "s34_bmap_rows.patch applied" || exit 1; }
JFA_H200_TARGETS="jfa test_gpu_masks" jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
T=$B/tests/gpu/test_gpu_masks
for i in 1 2 3 4 5 6 7 8 9 10; do
  timeout $(left 250) $T 79 > "$OUT/c79_$i.log" 2>&1
  echo "run $i rc=$? $(grep -c '^\[PASS\]' "$OUT/c79_$i.log") passed"; grep -E "^\[FAIL\]" "$OUT/c79_$i.log" | cut -c1-200
done
grep -h "case 79 map: the calls' own map twice" "$OUT"/c79_1.log | cut -c1-160
echo "t=$(( $(date +%s) - T0 ))"
for c in 72 73; do
  timeout $(left 200) $T $c > "$OUT/c$c.log" 2>&1
  echo "case $c rc=$? $(grep -c '^\[PASS\]' "$OUT/c$c.log") passed"; grep -E "^\[FAIL\]|host buffer" "$OUT/c$c.log" | cut -c1-220
done
echo "t=$(( $(date +%s) - T0 ))"
JFA_SAN_TAIL=4 jfa_sanitize racecheck $(left 120) test_gpu_masks 79
JFA_SAN_TAIL=3 jfa_sanitize memcheck $(left 90) test_gpu_masks 79
echo "t=$(( $(date +%s) - T0 ))"
JFA_LIBRARY=$PWD/$B/libjfa.so timeout $(left 5) python3 tests/python/run_pytest.py gpu -k "mask" -p no:warnings \
  > "$OUT/py.log" 2>&1
echo "python rc=$?"; grep -E "passed|failed|FAILED|Error" "$OUT/py.log" | tail -8
echo "t=$(( $(date +%s) - T0 ))"
