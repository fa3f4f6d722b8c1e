#!/bin/bash
# run_ring_overhead_h200.sh - the ring machinery's cost at P = 1 on one H200, split by cause
# (issue 21; from the repository root): builds jfa_ring through h200_build.sh (cmake -G Ninja,
# sm_90, NCCL from the nvidia.nccl package when present) and runs apps/jfa_ring with one rank,
# bf16, B = 1, H = 16, D = 128, N = 32768, causal (zigzag) and non-causal, timed with CUDA
# events (--timer events: warm-up calls, then the median of ITERS), in three modes:
#   direct      the default at P = 1: the ring's calls go straight to the single-device kernels
#   generic     JFA_RING_GENERIC=1: the ring's steps with one rank; its one step's one call is
#               the only contribution to every output, so it writes them in overwrite mode
#               (no accumulators, fills or converts; the backward computes delta then one call)
#   accumulate  JFA_RING_GENERIC=2: every call merged into the fp32 accumulators as at P > 1
#               (lse/mu fills, the accumulate epilogue, dQ/dK/dV fills, key halves, converts):
#               the per-step machinery that P > 1 pays, measured on one GPU
# Each timing run prints forward, forward+JVP and backward times and the single-device API on
# the same problem (ring/direct). Then each mode once more with JFA_RING_PROFILE=1 (2 calls
# per op): per call, the CUDA-event time of every phase (fills, attention calls in merge or
# overwrite mode, delta, converts, stream wait) summed by name; the summary keeps each op's
# last call; its header line names the kernel families that ran last (fwd/bwd: 0 simt, 1 sm80,
# 2 sm90). The accumulate epilogue's own cost is "attn merge"/"bwd merge" minus the direct
# call ("attn direct"/"bwd direct"). With P2=1 (default) a last run puts 2 processes on the GPU
# (MPI comm, N = P2_N) with the profile, for the per-step phases (exchange waits, fused calls).
# Logs (one per run, build.log, summary.log) go to $OUT; runs stop starting after BUDGET s.
#
#   bash bench/device/run_ring_overhead_h200.sh   (ITERS=10 WARMUP=2 N=32768 BUDGET=230 by default)
set -u
OUT=${OUT:-/tmp/jfa_ring_overhead}
mkdir -p "$OUT"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
N=${N:-32768}
ITERS=${ITERS:-10}
WARMUP=${WARMUP:-2}
BUDGET=${BUDGET:-230}
P2=${P2:-1}
P2_N=${P2_N:-16384}
MODES=${MODES:-direct generic accumulate}
. bench/device/h200_build.sh
B=build-h200
JFA_H200_TARGETS=jfa_ring jfa_h200_build $B "$OUT/build.log" || { echo "BUILD FAILED"; tail -40 "$OUT/build.log"; exit 1; }
[ -x $B/apps/jfa_ring ] || { echo "jfa_ring was not built (MPI missing?)"; tail -20 "$OUT/build.log"; exit 1; }
grep BUILD_WALL "$OUT/build.log"

COMM=mpi # one rank: the communicator carries nothing; nccl when built, else mpi
grep -q "JFA_ENABLE_NCCL:BOOL=ON" $B/CMakeCache.txt 2>/dev/null && COMM=nccl
: > "$OUT/summary.log"
SECONDS=0
level_of() { case "$1" in generic) echo 1 ;; accumulate) echo 2 ;; *) echo 0 ;; esac; }
# ring_run MODE MASK LOG ITERS WARMUP [env...]: one jfa_ring run at P = 1
ring_run() {
  local mode="$1" mask="$2" log="$3" iters="$4" warm="$5"
  shift 5
  env JFA_RING_GENERIC="$(level_of "$mode")" "$@" timeout 120 mpirun -np 1 $B/apps/jfa_ring --device cuda \
    --comm $COMM --dtype bf16 --batch 1 --heads 16 --kv-heads 16 --dim 128 --seq "$N" --layout zigzag \
    --$mask --iters "$iters" --warmup "$warm" --timer events > "$log" 2>&1
}
# last_profiles LOG [RANK]: the profile lines of each op's last call on rank RANK (0)
last_profiles() {
  awk -v want="${2:-0}/" '$1 == "jfa_ring_profile:" && $2 == "rank" && index($3, want) == 1 {
         if ($4 ~ /^jfa_ring_/) { what = $4; blk[what] = "" }
         blk[what] = blk[what] $0 "\n" }
       END { for (w in blk) printf "%s", blk[w] }' "$1"
}
for mask in causal no-causal; do
  for mode in $MODES; do
    [ "$SECONDS" -lt "$BUDGET" ] || { echo "== budget spent: $mode $mask not run" >> "$OUT/summary.log"; continue; }
    log="$OUT/ring_p1_${mode}_${mask}.log"
    ring_run "$mode" "$mask" "$log" "$ITERS" "$WARMUP"
    rc=$?
    {
      echo "== P=1 $mode $mask (rc=$rc, ${SECONDS}s)"
      grep -E "^  (forward|forward\+JVP|backward) |ring/direct|memory per rank|jfa_ring: (PASSED|FAILED)" "$log"
    } >> "$OUT/summary.log"
  done
done
for mask in causal no-causal; do
  for mode in $MODES; do
    [ "$SECONDS" -lt "$BUDGET" ] || { echo "== budget spent: profile $mode $mask not run" >> "$OUT/summary.log"; continue; }
    log="$OUT/profile_p1_${mode}_${mask}.log"
    ring_run "$mode" "$mask" "$log" 2 1 JFA_RING_PROFILE=1
    rc=$?
    { echo "== profile P=1 $mode $mask (rc=$rc, ${SECONDS}s)"; last_profiles "$log"; } >> "$OUT/summary.log"
  done
done
if [ "$P2" = 1 ] && [ "$SECONDS" -lt "$BUDGET" ]; then
  for mask in causal no-causal; do
    log="$OUT/profile_p2_mpi_${mask}.log"
    JFA_RING_PROFILE=1 timeout 90 mpirun --oversubscribe -np 2 $B/apps/jfa_ring --device cuda --comm mpi \
      --dtype bf16 --batch 1 --heads 16 --kv-heads 16 --dim 128 --seq "$P2_N" --layout zigzag --$mask \
      --iters 2 --warmup 1 --check sample > "$log" 2>&1
    rc=$?
    {
      echo "== profile P=2 (2 processes on one GPU, MPI comm, N=$P2_N) $mask (rc=$rc, ${SECONDS}s)"
      grep -E "^  (forward|forward\+JVP|backward) |jfa_ring: (PASSED|FAILED)" "$log"
      last_profiles "$log" 0
    } >> "$OUT/summary.log"
  done
fi
echo "total ${SECONDS}s" >> "$OUT/summary.log"
cat "$OUT/summary.log"
