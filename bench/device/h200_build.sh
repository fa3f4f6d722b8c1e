# h200_build.sh - sourced by the bench/run_*_h200.sh scripts: the device call's common
# start (NCCL from the nvidia.nccl package, the GPU and torch versions, the sm_90 build with
# the sm_90a objects and the Python tests on python3). Defines jfa_h200_build DIR LOG, which
# returns non-zero when the build failed.
export NCCL_NVLS_ENABLE=0 PYTHONUNBUFFERED=1
NCCL_ROOT=$(python3 -c "import nvidia.nccl;print(nvidia.nccl.__path__[0])" 2>/dev/null || true)
jfa_h200_build() {
  {
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu --format=csv
    python3 -c "import torch; print('torch', torch.__version__)"
    cmake -S . -B "$1" -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90 ${NCCL_ROOT:+-DNCCL_ROOT=$NCCL_ROOT} \
      -DJFA_PYTHON_EXECUTABLE="$(command -v python3)" &&
      /usr/bin/time -f "BUILD_WALL %e s" cmake --build "$1" -j16
  } > "$2" 2>&1
}
