#!/bin/bash
# run_s41c_h200.sh - the forty-first session's third call, on the warm machine (build-suite kept; .seed carried): the
# fortieth session's open question, whether the float32 N = 256 backward loses to the Triton package only late in a
# long process: the whole bench_vs_package.py sweep with nvidia-smi's SM clock and power after each lane (--clocks),
# then the float32 N = 256 lanes again in a fresh process, each call alone and 10 calls a timing.
#   DL=350 bash bench/device/sessions/run_s41c_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s41c}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-350}
B=build-suite
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
export PYTHONPATH=python JFA_LIBRARY=$B/libjfa.so
S=$(( $(left 60) - 40 ))
timeout $(( S + 40 )) python3 bench/bench_vs_package.py --triton-path .seed --clocks --deadline $S \
  > "$OUT/vs_package.log" 2> "$OUT/vs_package.err"
echo "vs_package rc=$?"
grep -E "^\||^#" "$OUT/vs_package.log"
grep -vE "^#   [0-9.]+ s$" "$OUT/vs_package.err" | sort | uniq -c | sort -rn | head -12
echo "t=$(( $(date +%s) - T0 ))"
for bt in 1 10; do
  timeout $(left 3) python3 bench/bench_vs_package.py --triton-path .seed --batch $bt --iters 7 \
    --lanes float32:128:256:causal,float32:64:256:none 2>/dev/null | grep -E "^\| float|^# jfa|^#   float"
  echo "t=$(( $(date +%s) - T0 ))"
done
