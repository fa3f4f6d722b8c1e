#!/bin/bash
# run_s34d_h200.sh - the thirty-fourth session's first GPU call (from the repository root; .seed carried), what the
# session's changes need first, in the device time a day of failed machine starts left: the default build (-Werror),
# the GPU tests of the block map (test_gpu_masks with its new map pass, its sm80 variant, test_gpu_blockmask), the
# Python GPU tests of masks and packed sequences (test_mask_map_follows_the_mask, _default_and_inference; the compile
# tests, the varlen reduce-overhead one among them, wait for a whole-suite call), then the dense lane's rates: jfa_bench --dense-full (a (4, 16, 4096, 4096) mask, the map built
# per call by the new kernel) and bench_lanes.py's dense lane by default (a map per forward, read by its
# backward) and with JFA_MASK_MAP_CACHE=1 (kept on the mask tensor), beside the unmasked D = 128 lane; ncu of the
# map's kernel in the reserve.
#   DL=570 bash bench/device/run_s34d_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s34d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-570}
B=build-s34
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
(cd $B && timeout $(left 330) ctest -j3 --timeout 240 --output-on-failure \
  -R "^(test_gpu_masks|test_gpu_masks_sm80|test_gpu_blockmask)$") > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run|Passed" "$OUT/ctest.log" | head -8
grep -E '^\[FAIL\]' "$OUT/ctest.log" | head -12
echo "t=$(( $(date +%s) - T0 ))"
JFA_LIBRARY=$PWD/$B/libjfa.so timeout $(left 240) python3 tests/python/run_pytest.py gpu \
  -k "mask or varlen" -p no:warnings > "$OUT/py.log" 2>&1
echo "python rc=$?"; grep -E "passed|failed|FAILED|Error" "$OUT/py.log" | tail -8
echo "t=$(( $(date +%s) - T0 ))"
JFA_BENCH_TIMEOUT=$(left 180) jfa_bench_rows --dense-full 4 4096 128 --nomask 4096 128
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
timeout $(left 100) python3 bench/bench_lanes.py --iters 7 --triton-path .seed \
  --lanes bfloat16:128:4096:dense,bfloat16:128:4096:none > "$OUT/lanes.log" 2>&1
grep -E "^\|" "$OUT/lanes.log" | head -12
JFA_MASK_MAP_CACHE=1 timeout $(left 50) python3 bench/bench_lanes.py --iters 7 --lanes bfloat16:128:4096:dense \
  > "$OUT/lanes_nocache.log" 2>&1
grep -E "^\| .*jfa" "$OUT/lanes_nocache.log" | head -3
echo "t=$(( $(date +%s) - T0 ))"
[ "$(left 5)" -gt 35 ] && jfa_ncu bmap bmap_rows_bool --dense-full 4 4096 128
echo "t=$(( $(date +%s) - T0 ))"
