#!/bin/bash
# run_s43a_h200.sh - the forty-third session's first call (from the repository root; .seed carried): the build
# (build-suite: every head dim, -Werror), the finfo.min rows through jfa.torch.attention against SDPA's math in float64
# (check_s43_finfo.py, about 30 s), then the whole GPU suite as run_s42a_h200.sh runs it (the test_gpu_masks family
# first, every other GPU entry after it). run_s43b_h200.sh (issues 17 / 18's tables) reuses build-suite.
#   DL=590 bash bench/device/sessions/run_s43a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s43a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-suite
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
nvidia-smi --query-gpu=name,clocks.sm,clocks.max.sm,power.draw,power.limit --format=csv,noheader
PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so timeout 60 python3 bench/device/sessions/check_s43_finfo.py \
  > "$OUT/finfo.log" 2>&1
echo "finfo rc=$?"; cat "$OUT/finfo.log"; echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 240) ctest -L gpu -j8 --timeout 400 --output-on-failure -R '^test_gpu_masks' -E 64bit) \
  > "$OUT/suite_part1.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/suite_part1.log" | head -30
grep '^\[FAIL\]' "$OUT/suite_part1.log" | sort | uniq -c | sort -rn | head -20
echo "t=$(( $(date +%s) - T0 ))"
(cd $B && timeout $(left 5) ctest -L gpu -j8 --timeout 400 --output-on-failure -E '^test_gpu_masks|64bit') \
  > "$OUT/suite_part2.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/suite_part2.log" | head -30
grep '^\[FAIL\]' "$OUT/suite_part2.log" | sort | uniq -c | sort -rn | head -20
echo "t=$(( $(date +%s) - T0 ))"
