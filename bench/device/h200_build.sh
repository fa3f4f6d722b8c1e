# h200_build.sh - sourced by every bench/device/run_*_h200.sh script (from the repository
# root): the device call's common start and its one build.
#   jfa_h200_build DIR LOG [extra cmake args...]
# prints the GPU, the commit and the torch version, configures DIR (Ninja, sm_90 with the
# sm_90a objects, NCCL from the nvidia.nccl package when present, the Python tests on
# python3, then the extra args) and builds it with 16 jobs (only the targets in
# $JFA_H200_TARGETS when set), all into LOG; returns non-zero when the build failed.
# jfa_bench_rows ARGS... runs DIR's jfa_bench (JFA_BENCH, set by jfa_h200_build) under
# `timeout ${JFA_BENCH_TIMEOUT:-600}` and prints its rows only (no header, no summary line),
# for logs that gather several runs.
export NCCL_NVLS_ENABLE=0 PYTHONUNBUFFERED=1
NCCL_ROOT=$(python3 -c "import nvidia.nccl;print(nvidia.nccl.__path__[0])" 2>/dev/null || true)
jfa_h200_build() {
  local dir="$1" log="$2"
  shift 2
  JFA_BENCH="$dir/bench/jfa_bench"
  JFA_BUILD_DIR="$dir"
  {
    nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.mem,temperature.gpu,power.draw --format=csv
    git log --oneline -1 2>/dev/null || true
    python3 -c "import torch; print('torch', torch.__version__, torch.cuda.device_count(), 'GPUs')"
    cmake -S . -B "$dir" -G Ninja -DCMAKE_CUDA_ARCHITECTURES=90 ${NCCL_ROOT:+-DNCCL_ROOT=$NCCL_ROOT} \
      -DJFA_PYTHON_EXECUTABLE="$(command -v python3)" "$@" &&
      /usr/bin/time -f "BUILD_WALL %e s" cmake --build "$dir" -j16 ${JFA_H200_TARGETS:+--target $JFA_H200_TARGETS}
  } > "$log" 2>&1
}
# jfa_build_failed LOG: after a failed jfa_h200_build, prints "BUILD FAILED" and LOG's error lines with their
# context, and exits the calling script (status 1).
jfa_build_failed() {
  echo "BUILD FAILED"
  grep -B2 -A12 -E "error|FAILED" "$1" | head -60
  exit 1
}
# jfa_build_step DIR LOG [extra cmake args...]: jfa_h200_build, the calling script ended by jfa_build_failed when it
# fails, then the build's wall time and the seconds since T0 (the scripts' one build step).
jfa_build_step() {
  jfa_h200_build "$@" || jfa_build_failed "$2"
  grep BUILD_WALL "$2"
  echo "t=$(( $(date +%s) - T0 ))"
}
# jfa_sanitize TOOL TIMEOUT TEST [ARGS...] runs compute-sanitizer's TOOL on DIR's tests/gpu/TEST
# and prints "== TOOL TEST ARGS", its last ${JFA_SAN_TAIL:-2} lines and "rc=" the sanitizer's own
# exit status (9 on an error), not tail's.
jfa_sanitize() {
  local tool="$1" limit="$2"
  shift 2
  echo "== $tool $*"
  timeout "$limit" compute-sanitizer --tool "$tool" --error-exitcode 9 "$JFA_BUILD_DIR/tests/gpu/$1" "${@:2}" |
    tail -"${JFA_SAN_TAIL:-2}"
  echo "rc=${PIPESTATUS[0]}"
}
# jfa_ncu NAME KERNEL-REGEX ARGS... profiles one launch (the second) of DIR's jfa_bench ARGS whose kernel matches
# KERNEL-REGEX with ncu (clocks left alone; speed of light, compute and memory workload, warp states with the stall
# reasons per issued instruction, launch, occupancy) into $OUT/ncu_NAME.log, bounded by `left 200`, and prints the
# main lines and the stall reasons above 0.15.
jfa_ncu() {
  local name=$1 k=$2
  shift 2
  JFA_BENCH_ITERS=1 timeout "$(left 200)" ncu --clock-control none -k "regex:$k" --launch-skip 1 --launch-count 1 \
    --section SpeedOfLight --section ComputeWorkloadAnalysis --section WarpStateStats --section LaunchStats \
    --section Occupancy --section MemoryWorkloadAnalysis \
    --metrics 'regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio' "$JFA_BENCH" "$@" \
    > "$OUT/ncu_$name.log" 2>&1
  echo "== ncu $name"
  grep -E "Duration|Compute \(SM\) Throughput|DRAM Throughput|Issue Slots Busy|Executed Ipc A|Registers Per|Local Memory Spill|L2 Hit|Warp Cycles Per Issued" "$OUT/ncu_$name.log" | head -12
  grep -E "issue_stalled_.*ratio" "$OUT/ncu_$name.log" | awk '$NF+0 > 0.15' | sed 's/smsp__average_warps_issue_stalled_//' | head -12
}
jfa_bench_rows() {
  timeout "${JFA_BENCH_TIMEOUT:-600}" "$JFA_BENCH" "$@" | grep -v -e "^op " -e "^# "
}
# jfa_gpu_suite DIR LOG RESERVE runs `ctest -L gpu -E 64bit` in DIR (8 at once, 240 s a test) until RESERVE seconds
# before the deadline (left), its output into LOG, and prints its summary lines and failed checks (the sessions' one
# way of running the whole GPU suite).
jfa_gpu_suite() {
  (cd "$1" && timeout "$(left "$3")" ctest -L gpu -j8 --timeout 240 --output-on-failure -E 64bit) > "$2" 2>&1
  grep -E "tests passed|Failed|\*\*\*|Not Run" "$2" | head -30
  grep '^\[FAIL\]' "$2" | head -20
}
# jfa_run CMD [ARGS...] prints "== CMD ARGS", runs it under `timeout ${LIMIT:-300}` with its whole
# output (stderr too), then "rc=" its exit status: the stages' one way of running a test.
jfa_run() {
  echo "== $*"
  timeout "${LIMIT:-300}" "$@" 2>&1
  echo "rc=$?"
}
# left RESERVE: the seconds a step may take so that RESERVE seconds remain before the deadline DL (seconds after T0,
# both set by the calling script), at least 1; prints "STEP SKIPPED (deadline)" to stderr when nothing is left, so
# that a step cut to 1 s (the fifteenth session's call 3: a 137 s build left its tests 1 s) shows in the log.
left() {
  local x=$(( ${DL:-600} - ($(date +%s) - ${T0:-$(date +%s)}) - $1 ))
  if [ $x -lt 2 ]; then
    echo "STEP SKIPPED (deadline: ${DL:-600} s, reserve $1 s)" >&2
    x=1
  fi
  echo $x
}
