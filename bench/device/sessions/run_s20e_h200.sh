#!/bin/bash
# run_s20e_h200.sh - the twentieth session's last call: HEAD (the persistent JVP the default only for D = 64 calls that
# are not plain causal, tiles.h sm90_jvp_persist_default): one default build of every head dim (-Werror), then the
# JVP's suites (test_gpu_jvp_persist, attention, masks, nan, tangent, modes and their _jvppersist / _ctas3 / _sm80
# entries). DL: the deadline (default 300). Logs in $OUT.   DL=300 bash bench/device/run_s20e_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s20e}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-300}
B=build-s20e
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
(cd $B && timeout $(left 3) ctest -R "jvp_persist|test_gpu_(attention|masks|nan|tangent|modes)" -E 64bit -j8 \
  --timeout 240 --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run" "$OUT/ctest.log" | head -30; grep '^\[FAIL\]' "$OUT/ctest.log" | head
echo "t=$(( $(date +%s) - T0 ))"
