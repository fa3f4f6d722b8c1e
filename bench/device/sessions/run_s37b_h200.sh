#!/bin/bash
# run_s37b_h200.sh - the thirty-seventh session's second call (from the repository root; .seed carried): the
# test_gpu_masks family (run_suite_part_h200.sh's PART=1) on the suite's build (run_s37a's, kept on a warm machine,
# else built again), then issue 17's training step (bench/train_step.py: float32 and bf16 attention against the Triton
# package) and issue 18's ratios with 10 calls a timing (--batch 10).
#   DL=590 bash bench/device/run_s37b_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s37b}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-suite
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
(cd $B && timeout $(left 150) ctest -L gpu -j8 --timeout 400 --output-on-failure -R '^test_gpu_masks' -E 64bit) \
  > "$OUT/suite_part1.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/suite_part1.log" | head -30
grep '^\[FAIL\]' "$OUT/suite_part1.log" | sort | uniq -c | sort -rn | head -20
grep -hE "^  \(case [0-9]+ took" "$OUT/suite_part1.log" | sed 's/.*(case \([0-9]*\) took \([0-9.]*\) s)/\2 s case \1/' |
  sort -rn | head -5
echo "t=$(( $(date +%s) - T0 ))"
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
L4=$(left 50); [ "$L4" -gt 110 ] && L4=110
timeout $L4 python3 bench/train_step.py --device cuda --dtypes float32,bfloat16 --batch 4 --seq 2048 --width 1024 \
  --heads 8 --depth 4 --iters 3 --triton-path .seed --backends jfa,triton,identity --format md > "$OUT/train.log" 2>&1
grep -E "^\||^#" "$OUT/train.log"; tail -3 "$OUT/train.log"; echo "t=$(( $(date +%s) - T0 ))"
timeout $(left 3) python3 bench/bench_ratio.py --rounds 5 --iters 3 --batch 10 > "$OUT/ratio_batch10.log" 2>&1
grep -E "^\||^#" "$OUT/ratio_batch10.log"; echo "t=$(( $(date +%s) - T0 ))"
