#!/bin/bash
# run_s34e_h200.sh - the block map's GPU checks first (from the repository root; .seed carried): the default
# build (-Werror), test_gpu_masks (its new map pass: a caller-built block map bitwise the calls' own) and
# test_gpu_blockmask (the boolean map's build), the Python GPU mask tests (test_mask_map_follows_the_mask,
# _default_and_inference, _per_forward), then jfa_bench --dense-full and the dense lane; with APPLY=1, on bench/device/s34_bmap_rows.patch's boolean map build (four rows a warp; reverted until it runs).
#   APPLY=1 DL=570 bash bench/device/run_s34e_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s34e}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-330}
B=build-s34
[ "${APPLY:-0}" = 1 ] && { git apply bench/device/s34_bmap_rows.patch && echo "s34_bmap_rows.patch applied" || exit 1; }
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
(cd $B && timeout $(left 130) ctest -j2 --timeout 200 --output-on-failure -R "^(test_gpu_masks|test_gpu_blockmask)$") \
  > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run|Passed" "$OUT/ctest.log" | head -6
grep -E '^\[FAIL\]' "$OUT/ctest.log" | head -12
echo "t=$(( $(date +%s) - T0 ))"
JFA_LIBRARY=$PWD/$B/libjfa.so timeout $(left 60) python3 tests/python/run_pytest.py gpu -k "mask" -p no:warnings \
  > "$OUT/py.log" 2>&1
echo "python rc=$?"; grep -E "passed|failed|FAILED|Error" "$OUT/py.log" | tail -6
echo "t=$(( $(date +%s) - T0 ))"
JFA_BENCH_TIMEOUT=$(left 35) jfa_bench_rows --dense-full 4 4096 128
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 3) python3 bench/bench_lanes.py --iters 5 --lanes bfloat16:128:4096:dense > "$OUT/lanes.log" 2>&1
grep -E "^\|" "$OUT/lanes.log" | head -6
echo "t=$(( $(date +%s) - T0 ))"
