#!/bin/bash
# run_s25e_h200.sh - the twenty-fifth session's fifth call (from the repository root; ~4 minutes of device time
# left): a default build of jfa_bench at D = 64 alone (-Werror), then an A / B of short causal sequences, in
# alternation: the default routes against JFA_SM90_FWD_NC3P=1 (the forward's unmasked / causal calls on variant 34's
# persistent three-consumer kernel; A / B switch only) with JFA_SM90_JVP_PERSIST=1 (the persistent JVP on plain
# causal calls, which it leaves by default), at causal B x N = 16 x 1024, 8 x 2048, 4 x 4096, 1 x 16384.
# DL: the deadline (default 190). Logs in $OUT.   DL=190 bash bench/device/run_s25e_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s25e}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-190}
B=build-s25e
JFA_H200_TARGETS=jfa_bench jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON -DJFA_HEAD_DIMS=64
{
  for r in 1 2; do
    for e in "JFA_X=0" "JFA_SM90_FWD_NC3P=1 JFA_SM90_JVP_PERSIST=1"; do
      for s in "16 1024" "8 2048" "4 4096" "1 16384"; do
        env $e timeout $(left 2) $JFA_BENCH --causal $s 64 | grep -e ^fwd -e ^jvp | sed "s/^/[$e] /"
      done
    done
  done
} 2>&1 | tee "$OUT/ab.log"
echo "t=$(( $(date +%s) - T0 ))"
