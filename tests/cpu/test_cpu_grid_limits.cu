/*
 * test_cpu_grid_limits.cu - the launch limits the CUDA families check before they take a call, compiled for the host
 * (no GPU; built with JFA_ENABLE_CUDA): calls whose rows or keys the kernels' grids or int block counts cannot hold
 * are declined with a reason (then refused, as no family takes them), never launched with a wrapped count. A helper's
 * audit found two that were not: simt's grid.x of Nq / 8 blocks cast to unsigned (Nq = 2^35 + 8 launched one block:
 * 8 rows computed, success) and sm80's int key-block count (K and V broadcast at stride 0 along Nk = 2^37: negative,
 * o = 0 and lse = -inf, success). Both sizes fit a GPU's memory with broadcast inputs or a small head dim.
 *
 * Run: ctest --test-dir build -R test_cpu_grid_limits
 */
#include <stdio.h>
#include <string.h>

#include "kernels/simt/simt_common.cuh"
#include "kernels/sm80/sm80.h"
#include "testutil.h"

static jfa_problem_t problem(int64_t Nq, int64_t Nk) {
  jfa_problem_t p;
  memset(&p, 0, sizeof(p));
  p.B = 1, p.Hq = 1, p.Hkv = 1, p.Nq = Nq, p.Nk = Nk, p.D = 64;
  p.scale = 0.125;
  p.win_left = p.win_right = JFA_WINDOW_UNBOUNDED;
  return p;
}

int main(void) {
  tu_init_seed("test_cpu_grid_limits");
  CudaState cs;
  memset(&cs, 0, sizeof(cs));
  cs.max_smem_optin = 227 * 1024;
  const int64_t big_q = ((int64_t)1 << 35) + 8, big_k = (int64_t)1 << 37;
  jfa_problem_t p = problem(4096, 4096);
  tu_expect("simt: N = 4096 taken", simt_limits_why_not(&cs, &p, 1024, true) == nullptr);
  tu_expect("sm80: N = 4096 taken", sm80_limits_why_not(&p, 1, "grid") == nullptr);
  p = problem(((int64_t)1 << 31) - 1, 16);
  tu_expect("simt: Nq = 2^31 - 1 taken (2^28 blocks)", simt_limits_why_not(&cs, &p, 1024, true) == nullptr);
  tu_expect("sm80: Nq = 2^31 - 1 taken", sm80_limits_why_not(&p, 1, "grid") == nullptr);
  p = problem(big_q, 16);
  const char *w = simt_limits_why_not(&cs, &p, 1024, true);
  printf("simt at Nq = 2^35 + 8: %s\n", w ? w : "(taken)");
  tu_expect("simt: Nq = 2^35 + 8 declined (its grid.x of Nq / 8 blocks)", w != nullptr && strstr(w, "grid's x"));
  tu_expect("simt: a forward's Nq = 2^35 + 8 declined too", simt_limits_why_not(&cs, &p, 1024, false) != nullptr);
  p = problem(16, big_q);
  tu_expect("simt: Nk = 2^35 + 8 declined (the dK / dV kernel's grid.x)",
            simt_limits_why_not(&cs, &p, 1024, true) != nullptr);
  tu_expect("simt: a forward's Nk = 2^35 + 8 taken (its grid holds query rows only)",
            simt_limits_why_not(&cs, &p, 1024, false) == nullptr);
  p = problem(16, big_k);
  w = sm80_limits_why_not(&p, 1, "grid");
  printf("sm80 at Nk = 2^37: %s\n", w ? w : "(taken)");
  tu_expect("sm80: Nk = 2^37 declined (int key-block counts)", w != nullptr && strstr(w, "2^31"));
  p = problem((int64_t)1 << 31, 16);
  tu_expect("sm80: Nq = 2^31 declined", sm80_limits_why_not(&p, 1, "grid") != nullptr);
  return tu_finish();
}
