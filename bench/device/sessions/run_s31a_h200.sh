#!/bin/bash
# run_s31a_h200.sh - the next session's first call (from the repository root; the thirtieth session's run_s30b, which
# never ran, plus the thirty-first session's test_gpu_streams: a context's calls on two streams, beside a CUDA graph, and
# two threads' simt kernels, after the workspace / shared-memory attribute changes of 749ed32; the thirty-second
# session's row-broadcast block map: test_gpu_masks cases 83-94 in the subset, the keypad rates): where the time of two lanes
# below their ceilings goes, by ncu (clocks left alone, one launch each, stall reasons per issued instruction):
#   - the 16-bit forward at D = 128, N = 4096, with a random half boolean mask (1, 1, N, N) against unmasked (the
#     dense lane's forward runs at ~half of the unmasked kernel's rate per pair computed), and the backward of both;
#   - the float32 forward at D = 128 and 64, N = 4096, 3xTF32 (51-56% of the 3xTF32 ceiling);
#   - before those, the persistent forward / JVP's causal tile order 0 against 1 (L2 against balance);
# first (the deadline cuts the diagnostics, not these) the session's changes on the GPU (the default build, -Werror): the main job in bf16 / fp16 on CUDA (lse and mu
# now checked to 1e-4), P = 1 ring of the main job, 7ee1add's tensor views (the batch chunks' cases of test_gpu_attention
# / _masks, the ring's GPU tests), the binding's GPU tests (the ring's first-call join over gloo with CUDA tensors), the NaN suites (a sign-set NaN now too).
#   DL=590 bash bench/device/run_s31a_h200.sh
set -u
OUT=${OUT:-/tmp/jfa_s31a}
mkdir -p "$OUT"
. bench/device/h200_build.sh
T0=$(date +%s)
DL=${DL:-590}
B=build-s31a
jfa_build_step $B "$OUT/build.log" -DJFA_WARNINGS_AS_ERRORS=ON
{
  for dt in bf16 fp16; do
    LIMIT=$(left 200) jfa_run $B/apps/jfa_attn --device cuda --dtype $dt --heads 8 --kv-heads 2 --seq 4096 --dim 128 --causal
    LIMIT=$(left 200) jfa_run mpirun --allow-run-as-root --oversubscribe -np 1 $B/apps/jfa_ring --device cuda --dtype $dt \
      --heads 4 --seq 8192 --dim 64 --check sample
  done
} > "$OUT/app.log" 2>&1
grep -E "^== |check|lse|mu  |rc=|FAIL" "$OUT/app.log" | head -40
NAMES="test_gpu_attention|test_gpu_masks|test_ring_gpu|test_ring_gpu_np1_generic|test_ring_gpu_np1_accumulate|\
test_ring_bwd_jvp_gpu|test_python_gpu|test_python_torchrun_nccl_p1|test_comm_gpu|test_gpu_nan.*|test_gpu_streams"
(cd $B && timeout $(left 150) ctest -R "^($NAMES)\$" -j6 --timeout 300 --output-on-failure) > "$OUT/ctest.log" 2>&1
grep -E "tests passed|Failed|\*\*\*|Not Run|Passed" "$OUT/ctest.log" | head -30
grep '^\[FAIL\]' "$OUT/ctest.log" | head -20
echo "t=$(( $(date +%s) - T0 ))"
# the thirty-first session's coverage audit's new cases (TF32 with boolean masks, which test_gpu_masks in the
# subset above runs; the sm90 backward-JVP on BSHD / packed + window; the forward-only accumulate mode; the sm90 float32
# backward's non-persistent row with GQA / BSHD / empty rows; the deterministic D = 128 band; the ring's packed
# backward-JVP on sm90; order 2 on the consumer-skip cases)
G=$B/tests/gpu
{
  for i in 38 39 40; do LIMIT=$(left 100) jfa_run $G/test_gpu_backward_jvp $i; done
  LIMIT=$(left 100) jfa_run $G/test_gpu_modes
  for i in 0 1 31; do LIMIT=$(left 100) jfa_run $G/test_gpu_f32 $i; done
  for i in 41 42 43; do LIMIT=$(left 100) jfa_run $G/test_gpu_f32_backward $i; done
  for i in 116 117; do LIMIT=$(left 100) jfa_run $G/test_gpu_sm90_bwd $i; done
  LIMIT=$(left 100) jfa_run mpirun --allow-run-as-root --oversubscribe -np 2 $B/tests/ring/test_ring_bwd_jvp gpu
  for i in 0 3 7; do JFA_TUNE_SM90_ORDER=2 LIMIT=$(left 100) jfa_run $G/test_gpu_fwd_cskip $i; done
} > "$OUT/coverage.log" 2>&1
grep -E "^== |passed|rc=|FAIL" "$OUT/coverage.log" | head -60
echo "t=$(( $(date +%s) - T0 ))"
# test_gpu_streams against the workspace code before 749ed32 (bench/device/s31_old_workspace.patch, applied to a copy of
# the tree; head dims 64 and 128, the test's): whether the test can fail (a race: it should, in cases 0-2, most runs)
{
  rm -rf /tmp/s31old && mkdir -p /tmp/s31old && cp -r CMakeLists.txt cmake include src tests apps bench python launch \
    examples tools /tmp/s31old/ 2>/dev/null
  (cd /tmp/s31old && patch -p1 -s < bench/device/s31_old_workspace.patch) &&
    cmake -S /tmp/s31old -B /tmp/s31old/b -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90 -DJFA_HEAD_DIMS="64;128" \
      ${NCCL_ROOT:+-DNCCL_ROOT=$NCCL_ROOT} > /dev/null &&
    timeout $(left 120) cmake --build /tmp/s31old/b -j16 --target test_gpu_streams > /dev/null &&
    LIMIT=$(left 100) jfa_run /tmp/s31old/b/tests/gpu/test_gpu_streams
} > "$OUT/streams_old.log" 2>&1
grep -E "FAIL|passed|rc=" "$OUT/streams_old.log" | head -12
echo "t=$(( $(date +%s) - T0 ))"
# the persistent forward / JVP's tile order on causal calls: 0 (longest first over every head: balanced, every head's
# K / V in flight) against 1 (head after head: L2-sized working sets; its snake balanced within 3% at these shapes,
# bench/persist_schedule_model.py's reasoning) and 2 (cta_pair_of: units of two tiles of equal causal work in L2-sized
# head groups) - whether L2 misses cost the causal forward; order 2's outputs first (the attention and persistent-JVP
# suites under it; the latter runs the persistent JVP on few CTAs itself)
{
  JFA_TUNE_SM90_ORDER=2 LIMIT=$(left 120) jfa_run $B/tests/gpu/test_gpu_attention
  JFA_TUNE_SM90_ORDER=2 LIMIT=$(left 100) jfa_run $B/tests/gpu/test_gpu_jvp_persist
} > "$OUT/order2_tests.log" 2>&1
grep -E "^== |passed|rc=|FAIL" "$OUT/order2_tests.log" | head -20
for shape in "4 4096 128" "16 4096 128" "8 2048 64" "4 4096 64"; do
  for o in 0 1 2; do
    JFA_TUNE_SM90_ORDER=$o timeout $(left 5) $JFA_BENCH --causal $shape | grep -E "^(fwd|jvp) " | sed "s/^/[order $o] /"
  done
done 2>&1 | tee "$OUT/order.log"
{
  $JFA_BENCH --dense 4096 128
  $JFA_BENCH --nomask 4096 128
  # the thirty-second session's key-padding map (one row a slice) against the same mask materialised
  $JFA_BENCH --keypad 4 4096 128 --keypad-full 4 4096 128 --keypad 2 16384 128
  $JFA_BENCH --case 4096 128 0 fp32 --case 4096 64 0 fp32
} 2>&1 | grep -v "^#" | tee "$OUT/rates.log"
STALL='regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio'
prof() { # name kernel-regex args...
  local name=$1 k=$2
  shift 2
  JFA_BENCH_ITERS=1 timeout $(left 5) ncu --clock-control none -k "regex:$k" --launch-skip 1 --launch-count 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section WarpStateStats --section LaunchStats \
    --section Occupancy --section MemoryWorkloadAnalysis --metrics "$STALL" $JFA_BENCH "$@" > "$OUT/ncu_$name.log" 2>&1
  echo "== ncu $name"
  grep -E "Duration|Compute \(SM\) Throughput|DRAM Throughput|Issue Slots Busy|Executed Ipc A|Registers Per|Local Memory Spill|L2 Hit|Warp Cycles Per Issued" "$OUT/ncu_$name.log" | head -12
  grep -E "issue_stalled_.*ratio" "$OUT/ncu_$name.log" | awk '$NF+0 > 0.15' | sed 's/smsp__average_warps_issue_stalled_//' | head -12
}
prof dense_fwd fwd_sm90a --dense 4096 128
prof nomask_fwd fwd_sm90a --nomask 4096 128
prof dense_bwd bwd_sm90a --dense 4096 128
prof nomask_bwd bwd_sm90a --nomask 4096 128
prof f32_fwd128 fwd_f32_sm90a --case 4096 128 0 fp32
prof f32_fwd64 fwd_f32_sm90a --case 4096 64 0 fp32
echo "t=$(( $(date +%s) - T0 ))"
# the thirty-second session's F2 (launch audit): a build whose sm80 objects carry only compute_80 PTX (JIT-compiled on
# the H200) must not choose the float32 backward's SPLIT tiles, whose compute_8x body is a __trap() (a sticky launch
# failure before 3c7cb7d); the sm90 family off so that every float32 backward reaches sm80
{
  cmake -S . -B build-s32-arch80 -G Ninja -DCMAKE_CUDA_ARCHITECTURES=80 -DJFA_HEAD_DIMS="64;128" -DJFA_ENABLE_SM90A=OFF \
    ${NCCL_ROOT:+-DNCCL_ROOT=$NCCL_ROOT} > /dev/null &&
    timeout $(left 150) cmake --build build-s32-arch80 -j16 --target test_gpu_f32_backward > /dev/null &&
    LIMIT=$(left 120) jfa_run build-s32-arch80/tests/gpu/test_gpu_f32_backward
} > "$OUT/arch80.log" 2>&1
grep -E "FAIL|passed|rc=|trap|illegal" "$OUT/arch80.log" | head -12
echo "t=$(( $(date +%s) - T0 ))"
