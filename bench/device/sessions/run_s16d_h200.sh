#!/bin/bash
# run_s16d_h200.sh - the sixteenth session's last call: test_gpu_masks (default, _sm80, _nof32dense) after its float32
# dK / dV bound became test_gpu_f32_backward's (3e-5 sqrt(Nq / 1000); call 3: case 30 at 1.01-1.05e-5 against 1e-5).
# A default build of libjfa and the test alone.   bash bench/device/run_s16d_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s16d}
mkdir -p "$OUT"
. bench/device/h200_build.sh
B=build-s16d
JFA_H200_TARGETS="jfa test_gpu_masks" jfa_h200_build $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON ||
  jfa_build_failed "$OUT/build.log"
grep BUILD_WALL "$OUT/build.log"
(cd $B && timeout 100 ctest -j3 --timeout 90 --output-on-failure -R "^test_gpu_masks") > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head; grep '^\[FAIL\]' "$OUT/ctest.log" | head
grep -E "case 30 (bwd|accumulate) d[KV]" "$OUT/ctest.log" | head -6
