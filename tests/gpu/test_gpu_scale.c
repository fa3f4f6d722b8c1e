/*
 * test_gpu_scale.c - the softmax scale at its edges on every CUDA path, against the
 * float64 CPU backend on the same rounded inputs (same params):
 *  - an exact zero scale (JFA_PARAMS_SCALE_AS_GIVEN): uniform softmax over the
 *    visible keys; mu and dQ, dK must be exactly 0;
 *  - negative scales (-0.7, and -3 with the flag);
 *  - |scale| = JFA_SCALE_MAX: forward, JVP and backward finite where the dtype holds the float64 value (Od and, in fp16,
 *    dQ, dK grow with the scale), O a convex combination of V
 *    (|O| <= max |V| per column), lse and mu finite where a key is visible;
 *  - DBL_MAX refused before anything runs.
 * bf16 and fp16 (tensor-core kernels; the sm_90a forward needs scale > 0 and falls
 * back to mma.sync for these scales) and fp32 (the 3xTF32 tensor-core kernels where they
 * take the call, SIMT elsewhere), causal bottom-right, GQA,
 * Nq != Nk. Runs on the default dispatch and with JFA_KERNEL_PATH=sm80 (CMake).
 *
 *   ctest -L gpu    or    ./test_gpu_scale [case-index]   (JFA_TEST_SEED=... to repeat)
 * Exits 77 (CTest "Not Run") without a GPU.
 */
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gpu_test.h"

#define BF JFA_DTYPE_BFLOAT16
#define FH JFA_DTYPE_FLOAT16
#define F32 JFA_DTYPE_FLOAT32

typedef struct {
  jfa_dtype_t dt;
  double scale;
  uint32_t flags;
} scase_t;

static const scase_t cases[] = {
    {BF, 0.0, JFA_PARAMS_SCALE_AS_GIVEN},  {FH, 0.0, JFA_PARAMS_SCALE_AS_GIVEN}, {F32, 0.0, JFA_PARAMS_SCALE_AS_GIVEN},
    {BF, -0.7, 0},                         {FH, -0.7, 0},                        {F32, -0.7, 0},
    {BF, -3.0, JFA_PARAMS_SCALE_AS_GIVEN}, {F32, -3.0, JFA_PARAMS_SCALE_AS_GIVEN},
    {BF, JFA_SCALE_MAX, 0},                {BF, -JFA_SCALE_MAX, 0},              {F32, JFA_SCALE_MAX, 0},
    {FH, -JFA_SCALE_MAX, 0},
};

enum { B = 2, HQ = 4, HKV = 2, NQ = 100, NK = 129, D = 64 };

static double max_abs(const double *x, size_t n) {
  double m = 0;
  for (size_t i = 0; i < n; ++i) m = fmax(m, fabs(x[i]));
  return m;
}

static void run_case(int ci, jfa_context_t *gpu, jfa_context_t *cpu) {
  const scase_t *c = &cases[ci];
  const int huge = fabs(c->scale) == JFA_SCALE_MAX;
  printf("case %d: %s scale %g flags %u\n", ci, jfa_dtype_name(c->dt), c->scale, (unsigned)c->flags);
  fflush(stdout);
  /* float32: the tensor-core kernels sum the scores in float32, whose rounding (|S| 2^-24) grows
     with the logits: |scale| sqrt(D) / 8 times float32's bound (1 at the default scale). The
     16-bit bounds already cover it. Measured at scale -3 (2026-12-02, H200): 2.4e-5. The huge
     scale checks only finiteness and the range of O, at float32's bound. */
  const double grow = c->dt == F32 && !huge ? fmax(1.0, fabs(c->scale) * sqrt((double)D) / 8.0) : 1.0;
  const double tol = gt_tol(c->dt) * grow;
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = JFA_MASK_CAUSAL_BOTTOM_RIGHT;
  prm.scale = c->scale;
  prm.flags = c->flags;

  gbuf_t q = gb_new(c->dt, 0, B, HQ, NQ, D), k = gb_new(c->dt, 1, B, HKV, NK, D), v = gb_new(c->dt, 0, B, HKV, NK, D),
         qd = gb_new(c->dt, 0, B, HQ, NQ, D), kd = gb_new(c->dt, 0, B, HKV, NK, D), vd = gb_new(c->dt, 0, B, HKV, NK, D),
         dout = gb_new(c->dt, 0, B, HQ, NQ, D);
  gbuf_t o = gb_new(c->dt, 0, B, HQ, NQ, D), od = gb_new(c->dt, 0, B, HQ, NQ, D), lse = gb_new(F32, 0, B, HQ, NQ, 1),
         mu = gb_new(F32, 0, B, HQ, NQ, 1), dq = gb_new(c->dt, 0, B, HQ, NQ, D), dk = gb_new(c->dt, 0, B, HKV, NK, D),
         dv = gb_new(c->dt, 0, B, HKV, NK, D);
  gbuf_t *ins[] = {&q, &k, &v, &qd, &kd, &vd, &dout};
  for (int e = 0; e < 7; ++e) gb_random(ins[e], 1.0);
  size_t nq = q.n, nk = k.n, nr = lse.n;
  char nm[160];

  if (huge) { /* forward and JVP finite; O within the range of V */
    gb_poison(&o), gb_poison(&lse), gb_poison(&od), gb_poison(&mu);
    gt_ok(jfa_attention_forward_jvp(gpu, &prm, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t),
          "forward_jvp");
    gb_get(&o), gb_get(&lse), gb_get(&od), gb_get(&mu);
    /* Od = sum P (Sd - mu) V grows with the scale wherever a row's top scores are close enough to share P (a gap
       of 1.5 / |scale| between its two largest scores: seed 1796342845396025, case 11, had |Od| = 7.4e5 in
       float64): past fp16's 65504 it is inf, as it should be. So Od is checked finite where the float64 CPU
       backend's Od (same rounded inputs) fits the dtype, O, lse and mu everywhere. */
    double *rod = calloc(nq, 8), *rjunk = calloc(nq, 8), *rl = calloc(nr, 8), *rm = calloc(nr, 8);
    {
      jfa_tensor_t hq = host_f64(q.val, B, HQ, NQ, D), hk = host_f64(k.val, B, HKV, NK, D),
                   hv = host_f64(v.val, B, HKV, NK, D), hqd = host_f64(qd.val, B, HQ, NQ, D),
                   hkd = host_f64(kd.val, B, HKV, NK, D), hvd = host_f64(vd.val, B, HKV, NK, D),
                   ho = host_f64(rjunk, B, HQ, NQ, D), hod = host_f64(rod, B, HQ, NQ, D),
                   hl = host_f64(rl, B, HQ, NQ, 1), hm = host_f64(rm, B, HQ, NQ, 1);
      gt_ok(jfa_attention_forward_jvp(cpu, &prm, &hq, &hk, &hv, &hqd, &hkd, &hvd, &ho, &hl, &hod, &hm), "cpu jvp");
    }
    const double dmax = c->dt == FH ? 65504.0 : c->dt == BF ? 3.3895313892515355e38 : 3.4028234663852886e38;
    size_t bad = 0, big = 0;
    for (size_t i = 0; i < nq; ++i) {
      const int fits = fabs(rod[i]) < dmax * (1 - tol);
      big += !fits;
      bad += !isfinite(o.val[i]) || (fits && !isfinite(od.val[i]));
    }
    for (size_t i = 0; i < nr; ++i) bad += !isfinite(lse.val[i]) || !isfinite(mu.val[i]);
    snprintf(nm, sizeof nm,
             "case %d: forward+JVP at |scale| = JFA_SCALE_MAX finite where the dtype holds it (%zu not; %zu Od past "
             "the dtype's range in float64)",
             ci, bad, big);
    tu_expect(nm, bad == 0);
    free(rod), free(rjunk), free(rl), free(rm);
    const double vmax = max_abs(v.val, v.n) * (1 + tol);
    snprintf(nm, sizeof nm, "case %d: |O| <= max |V| (a convex combination of V rows)", ci);
    tu_expect(nm, max_abs(o.val, nq) <= vmax);
    /* the backward from the saved float32 lse (rounded by up to |S| * 2^-24, far above 1 here)
       keeps P <= 1: every gradient finite */
    gb_poison(&dq), gb_poison(&dk), gb_poison(&dv);
    gt_ok(jfa_attention_backward(gpu, &prm, &q.t, &k.t, &v.t, &o.t, &lse.t, &dout.t, &dq.t, &dk.t, &dv.t),
          "backward");
    gb_get(&dq), gb_get(&dk), gb_get(&dv);
    /* dQ and dK scale with the scale (|dQ| ~ 1e11 here): past fp16's 65504 they are inf, as
       they should be, never NaN (the float32 products do not overflow; NaN is also an unwritten output's poison);
       dV = P^T dO does not grow, and bf16/fp32 hold the rest */
    const int wide = c->dt != FH;
    bad = 0;
    for (size_t i = 0; i < nq; ++i) bad += wide ? !isfinite(dq.val[i]) : isnan(dq.val[i]);
    for (size_t i = 0; i < nk; ++i) bad += (wide ? !isfinite(dk.val[i]) : isnan(dk.val[i])) || !isfinite(dv.val[i]);
    snprintf(nm, sizeof nm, "case %d: backward at |scale| = JFA_SCALE_MAX finite where the dtype holds it, never NaN "
             "(%zu not)", ci, bad);
    tu_expect(nm, bad == 0);
    prm.scale = c->scale > 0 ? DBL_MAX : -DBL_MAX;
    gb_poison(&o);
    jfa_status_t st = jfa_attention_forward(gpu, &prm, &q.t, &k.t, &v.t, &o.t, &lse.t);
    gb_get(&o);
    snprintf(nm, sizeof nm, "case %d: scale %g refused, o untouched (%s)", ci, prm.scale, jfa_get_last_error());
    tu_expect(nm, st == JFA_ERROR_INVALID_ARGUMENT && tu_count_nan(o.val, nq) == nq);
  } else {
    double *ro = calloc(nq, 8), *rod = calloc(nq, 8), *rlse = calloc(nr, 8), *rmu = calloc(nr, 8),
           *rdq = calloc(nq, 8), *rdk = calloc(nk, 8), *rdv = calloc(nk, 8);
    jfa_tensor_t hq = host_f64(q.val, B, HQ, NQ, D), hk = host_f64(k.val, B, HKV, NK, D),
                 hv = host_f64(v.val, B, HKV, NK, D), hqd = host_f64(qd.val, B, HQ, NQ, D),
                 hkd = host_f64(kd.val, B, HKV, NK, D), hvd = host_f64(vd.val, B, HKV, NK, D),
                 hdo = host_f64(dout.val, B, HQ, NQ, D), ho = host_f64(ro, B, HQ, NQ, D),
                 hod = host_f64(rod, B, HQ, NQ, D), hl = host_f64(rlse, B, HQ, NQ, 1), hm = host_f64(rmu, B, HQ, NQ, 1),
                 hdq = host_f64(rdq, B, HQ, NQ, D), hdk = host_f64(rdk, B, HKV, NK, D), hdv = host_f64(rdv, B, HKV, NK, D);
    gt_ok(jfa_attention_forward_jvp(cpu, &prm, &hq, &hk, &hv, &hqd, &hkd, &hvd, &ho, &hl, &hod, &hm), "cpu jvp");
    gt_ok(jfa_attention_backward(cpu, &prm, &hq, &hk, &hv, &ho, &hl, &hdo, &hdq, &hdk, &hdv), "cpu backward");

    gb_poison(&o), gb_poison(&lse), gb_poison(&od), gb_poison(&mu);
    gt_ok(jfa_attention_forward_jvp(gpu, &prm, &q.t, &k.t, &v.t, &qd.t, &kd.t, &vd.t, &o.t, &lse.t, &od.t, &mu.t),
          "forward_jvp");
    gb_get(&o), gb_get(&lse), gb_get(&od), gb_get(&mu);
    snprintf(nm, sizeof nm, "case %d jvp O", ci), gt_compare(nm, o.val, ro, nq, tol);
    snprintf(nm, sizeof nm, "case %d jvp lse", ci), gt_compare(nm, lse.val, rlse, nr, tol);
    snprintf(nm, sizeof nm, "case %d jvp Od", ci), gt_compare(nm, od.val, rod, nq, tol);
    snprintf(nm, sizeof nm, "case %d jvp mu", ci), gt_compare(nm, mu.val, rmu, nr, tol);
    gb_poison(&dq), gb_poison(&dk), gb_poison(&dv);
    gt_ok(jfa_attention_backward(gpu, &prm, &q.t, &k.t, &v.t, &o.t, &lse.t, &dout.t, &dq.t, &dk.t, &dv.t), "backward");
    gb_get(&dq), gb_get(&dk), gb_get(&dv);
    snprintf(nm, sizeof nm, "case %d bwd dQ", ci), gt_compare(nm, dq.val, rdq, nq, tol);
    snprintf(nm, sizeof nm, "case %d bwd dK", ci), gt_compare(nm, dk.val, rdk, nk, tol);
    snprintf(nm, sizeof nm, "case %d bwd dV", ci), gt_compare(nm, dv.val, rdv, nk, tol);
    if (c->scale == 0.0) {
      snprintf(nm, sizeof nm, "case %d: zero scale gives mu = 0, dQ = dK = 0 exactly (max |.| %g, %g, %g)", ci,
               max_abs(mu.val, nr), max_abs(dq.val, nq), max_abs(dk.val, nk));
      tu_expect(nm, max_abs(mu.val, nr) == 0.0 && max_abs(dq.val, nq) == 0.0 && max_abs(dk.val, nk) == 0.0);
    }
    free(ro), free(rod), free(rlse), free(rmu), free(rdq), free(rdk), free(rdv);
  }
  gbuf_t *all[] = {&q, &k, &v, &qd, &kd, &vd, &dout, &o, &od, &lse, &mu, &dq, &dk, &dv};
  for (int e = 0; e < 14; ++e) gb_free(all[e]);
}

int main(int argc, char **argv) {
  return gt_main(argc, argv, "test_gpu_scale", (int)(sizeof cases / sizeof cases[0]), run_case);
}
