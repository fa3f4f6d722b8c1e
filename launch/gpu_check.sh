#!/usr/bin/env bash
# gpu_check.sh - the ring's checks on a machine with a GPU (one call of a few minutes):
# configures and builds the ring's programs and tests with CUDA (sm_90) and NCCL,
# runs `ctest -L mpi` (CPU and GPU ring tests, comm tests), then jfa_ring at P = 1
# (ring vs the single-device API: the ring's overhead) with NCCL and with MPI, and
# at P = 4 processes sharing GPU 0 through the MPI comm (staged through pinned memory).
#
#   launch/gpu_check.sh [outdir]      (logs to outdir, default ./gpu_check_out)
#
# Env: JFA_BUILD_DIR (default build-gpu), NCCL_ROOT (default: the nvidia-nccl wheel).
set -uo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
out="${1:-$here/gpu_check_out}"
mkdir -p "$out"
bd="${JFA_BUILD_DIR:-$here/build-gpu}"
export NCCL_NVLS_ENABLE=0 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=4
export PATH="/usr/local/cuda/bin:$PATH"
# containers often forbid the cross-process memory copy (CMA) of Open MPI's shared-memory transport
export OMPI_MCA_btl_vader_single_copy_mechanism=none
nccl_root="${NCCL_ROOT:-$(python3 -c 'import nvidia.nccl; print(nvidia.nccl.__path__[0])' 2>/dev/null)}"
[ -n "$nccl_root" ] && export LD_LIBRARY_PATH="$nccl_root/lib:${LD_LIBRARY_PATH:-}"
nvidia-smi -L | tee "$out/gpus.txt"
command -v mpirun mpicc; mpirun --version | head -1

echo "== configure + build"
t0=$(date +%s)
cmake -S "$here" -B "$bd" -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90 ${nccl_root:+-DNCCL_ROOT=$nccl_root} \
  > "$out/configure.log" 2>&1 || { tail -30 "$out/configure.log"; exit 1; }
grep "jfa:" "$out/configure.log"
cmake --build "$bd" -j "$(nproc)" --target jfa_ring test_ring_gpu test_ring_cpu test_ring_mismatch test_comm \
  > "$out/build.log" 2>&1 || { grep -E "error|FAILED" "$out/build.log" | head -30; exit 1; }
echo "built in $(( $(date +%s) - t0 )) s"

echo "== ctest -L mpi"
(cd "$bd" && timeout 240 ctest -L mpi --output-on-failure --timeout 120 2>&1) | tee "$out/ctest.log" | \
  grep -E "Test +#|tests passed|FAIL|Not Run|Skipped" | head -60

mpi=(mpirun --allow-run-as-root -x NCCL_NVLS_ENABLE=0 -x LD_LIBRARY_PATH)
echo "== jfa_ring P=1 nccl (defaults: bf16 causal zigzag N=16384 Hq=Hkv=16 D=128)"
timeout 120 "${mpi[@]}" -np 1 "$bd/apps/jfa_ring" --device cuda --comm nccl 2>&1 | tee "$out/ring_p1_nccl.log"
echo "== jfa_ring P=1 nccl with JFA_RING_GENERIC=2 (the ring's accumulators and key halves at P=1)"
JFA_RING_GENERIC=2 timeout 120 "${mpi[@]}" -x JFA_RING_GENERIC -np 1 "$bd/apps/jfa_ring" --device cuda --comm nccl 2>&1 | tee "$out/ring_p1_generic.log"
echo "== jfa_ring P=1 mpi, non-causal contiguous"
timeout 120 "${mpi[@]}" -np 1 "$bd/apps/jfa_ring" --device cuda --comm mpi --no-causal --layout contiguous 2>&1 | tee "$out/ring_p1_mpi.log"
echo "== jfa_ring P=4 processes on GPU 0 (mpi comm, staged)"
timeout 120 "${mpi[@]}" --oversubscribe -np 4 "$bd/apps/jfa_ring" --device cuda --comm mpi --seq 16384 --iters 5 2>&1 | tee "$out/ring_p4_mpi.log"
