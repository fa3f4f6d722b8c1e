/*
 * simt/bwd_jvp.cu - the CUDA backward-JVP (second order, jfa_attention_backward_jvp):
 * plain CUDA-core kernels with fp32 arithmetic (scores in double, as simt.cu), any dtype,
 * any strides, D <= 256, every mask of jfa_problem_t, GQA; deterministic (no atomics).
 * Three launches, in the style of simt.cu's backward:
 *   bj_delta_kernel  delta = rowsum(dO * O), deltad = rowsum(dOd * O + dO * Od)  (fp32)
 *   bj_dq_kernel     dQd (and dQ): a warp per query row, lanes over a 32-key tile
 *   bj_dkdv_kernel   dKd, dVd (and dK, dV): a warp per key row, lanes over a 32-query
 *                    tile, looping over the GQA group's heads
 * Per visible pair, with P = exp(S - lse), Sd = s (Qd.K + Q.Kd), Pd = P (Sd - mu),
 * dP = dO.V - delta, dPd = dOd.V + dO.Vd - deltad: dS = P dP, dSd = Pd dP + P dPd;
 * dQd = s sum (dSd K + dS Kd), dKd = s sum (dSd Q + dS Qd), dVd = sum (Pd dO + P dOd).
 * The simt row of backend.cu's backward-JVP table (the fallback of sm80/bwd_jvp.cuh, the
 * tensor-core kernel), its dQ kernel alone for the sm80 family's deterministic mode, and the
 * jfa_cuda_attention_delta_jvp entry point of core/backend.h.
 */
#include "kernels/simt/simt_common.cuh"

/* Writes (or adds into) one output row element; skipped when the view has no data. */
template <typename TO>
static __device__ __forceinline__ void bj_put(const View &t, int64_t b, int64_t h, int64_t s, int d, float x,
                                              int accumulate) {
  if (!t.p) return;
  TO *ptr = (TO *)t.p + voff(t, b, h, s, d);
  if (accumulate) x += to_f(*ptr);
  *ptr = from_f<TO>(x);
}

/* ---- delta, deltad: a warp per row; grid (ceil(rows / 8)) ---------------------------------- */
template <typename T>
__global__ void __launch_bounds__(256) bj_delta_kernel(jfa_problem_t p, View o, View od, View dout, View doutd,
                                                       View delta, View deltad) {
  const int64_t r = (int64_t)blockIdx.x * SIMT_WARPS + threadIdx.x / 32;
  const int lane = threadIdx.x & 31;
  if (r >= p.B * p.Hq * p.Nq) return;
  const int64_t b = r / (p.Hq * p.Nq), h = (r / p.Nq) % p.Hq, i = r % p.Nq;
  float s = 0.f, sd = 0.f;
  for (int64_t d = lane; d < p.D; d += 32) {
    const float ov = to_f(((const T *)o.p)[voff(o, b, h, i, d)]);
    const float dov = to_f(((const T *)dout.p)[voff(dout, b, h, i, d)]);
    s = fmaf(ov, dov, s);
    sd = fmaf(to_f(((const T *)doutd.p)[voff(doutd, b, h, i, d)]), ov,
              fmaf(dov, to_f(((const T *)od.p)[voff(od, b, h, i, d)]), sd));
  }
  s = warp_sum(s);
  sd = warp_sum(sd);
  if (lane == 0) {
    ((float *)delta.p)[voff(delta, b, h, i, 0)] = s;
    ((float *)deltad.p)[voff(deltad, b, h, i, 0)] = sd;
  }
}

/* The per-pair quantities; returns (P, Pd, dS, dSd) through pointers. */
static __device__ __forceinline__ void bj_pair(double s64, float li, float mi, float deli, float deldi, float sd,
                                               float dp0, float dpd0, float *P, float *Pd, float *dS, float *dSd) {
  const float pr = p_cap1(expf((float)(s64 - (double)li)));
  const float pd = pr * (sd - mi);
  const float dp = dp0 - deli, dpd = dpd0 - deldi;
  *P = pr;
  *Pd = pd;
  *dS = pr * dp;
  *dSd = pd * dp + pr * dpd;
}

/* ---- dQd (and dQ): a warp per query row; grid (ceil(Nq / 8), Hq, B) ----------------------- */
template <typename T, typename TO>
__global__ void __launch_bounds__(256) bj_dq_kernel(jfa_problem_t p, View q, View k, View v, View qd, View kd,
                                                    View vd, View dout, View doutd, View lse, View mu, View delta,
                                                    View deltad, View dqd, View dq, int accumulate, MaskDev mk) {
  extern __shared__ float sm[];
  const int D = (int)p.D, w = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int64_t b = blockIdx.z, h = blockIdx.y, hk = h / (p.Hq / p.Hkv);
  const int64_t row0 = (int64_t)blockIdx.x * SIMT_WARPS, i = row0 + w;
  const int rs = SIMT_WARPS * D, ts = SIMT_TILE * (D + 1);
  float *Qs = sm, *Qds = Qs + rs, *dOs = Qds + rs, *dOds = dOs + rs;
  float *Ks = dOds + rs, *Vs = Ks + ts, *Kds = Vs + ts, *Vds = Kds + ts;
  load_rows<T>(Qs, q, b, h, row0, p.Nq, D);
  load_rows<T>(Qds, qd, b, h, row0, p.Nq, D);
  load_rows<T>(dOs, dout, b, h, row0, p.Nq, D);
  load_rows<T>(dOds, doutd, b, h, row0, p.Nq, D);
  float li = -INFINITY, mi = 0.f, deli = 0.f, deldi = 0.f;
  if (i < p.Nq) {
    li = ((const float *)lse.p)[voff(lse, b, h, i, 0)];
    mi = ((const float *)mu.p)[voff(mu, b, h, i, 0)];
    deli = ((const float *)delta.p)[voff(delta, b, h, i, 0)];
    deldi = ((const float *)deltad.p)[voff(deltad, b, h, i, 0)];
  }
  float aqd[SIMT_MAXC], aq[SIMT_MAXC];
#pragma unroll
  for (int c = 0; c < SIMT_MAXC; ++c) aqd[c] = aq[c] = 0.f;
  int64_t klo = 0, khi = 0, nk_beg, nk_end;
  if (i < p.Nq) mask_row_keys(mk, i, &klo, &khi);
  cta_key_range(klo, khi, &nk_beg, &nk_end);
  for (int64_t j0 = nk_beg; j0 < nk_end; j0 += SIMT_TILE) {
    __syncthreads();
    load_tile<T>(Ks, k, b, hk, j0, p.Nk, D);
    load_tile<T>(Vs, v, b, hk, j0, p.Nk, D);
    load_tile<T>(Kds, kd, b, hk, j0, p.Nk, D);
    load_tile<T>(Vds, vd, b, hk, j0, p.Nk, D);
    __syncthreads();
    if (i >= p.Nq || li == -INFINITY) continue;
    const int64_t j = j0 + lane;
    const float bias = (mk.dm_kind && j >= klo && j < khi) ? mask_dense(mk, b, h, i, j) : 0.f;
    const bool valid = j >= klo && j < khi && bias != -INFINITY;
    float P = 0.f, Pd = 0.f, dS = 0.f, dSd = 0.f;
    if (valid) {
      const float *qi = Qs + w * D, *qdi = Qds + w * D, *doi = dOs + w * D, *dodi = dOds + w * D;
      const float *kj = Ks + lane * (D + 1), *vj = Vs + lane * (D + 1), *kdj = Kds + lane * (D + 1),
                  *vdj = Vds + lane * (D + 1);
      const double s64 = p.scale * dot_row64(qi, kj, D) + (double)bias;
      const float sd = (float)(p.scale * (dot_row64(qdi, kj, D) + dot_row64(qi, kdj, D)));
      bj_pair(s64, li, mi, deli, deldi, sd, dot_row(doi, vj, D), dot_row(dodi, vj, D) + dot_row(doi, vdj, D), &P, &Pd,
              &dS, &dSd);
    }
    for (int jj = 0; jj < SIMT_TILE; ++jj) {
      const float ds = __shfl_sync(0xffffffffu, dS, jj), dsd = __shfl_sync(0xffffffffu, dSd, jj);
#pragma unroll
      for (int c = 0; c < SIMT_MAXC; ++c) {
        const int d = lane + 32 * c;
        if (d < D) {
          const float kv = Ks[jj * (D + 1) + d];
          aqd[c] = fmaf(dsd, kv, fmaf(ds, Kds[jj * (D + 1) + d], aqd[c]));
          aq[c] = fmaf(ds, kv, aq[c]);
        }
      }
    }
  }
  if (i >= p.Nq) return;
  const float scale = (float)p.scale;
#pragma unroll
  for (int c = 0; c < SIMT_MAXC; ++c) {
    const int d = lane + 32 * c;
    if (d < D) {
      bj_put<TO>(dqd, b, h, i, d, scale * aqd[c], accumulate);
      bj_put<TO>(dq, b, h, i, d, scale * aq[c], accumulate);
    }
  }
}

/* ---- dKd, dVd (and dK, dV): a warp per key row; grid (ceil(Nk / 8), Hkv, B) -------------- */
template <typename T, typename TO>
__global__ void __launch_bounds__(256) bj_dkdv_kernel(jfa_problem_t p, View q, View k, View v, View qd, View kd,
                                                      View vd, View dout, View doutd, View lse, View mu,
                                                      View delta, View deltad, View dkd, View dvd, View dk,
                                                      View dv, int accumulate, MaskDev mk) {
  extern __shared__ float sm[];
  const int D = (int)p.D, w = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int64_t b = blockIdx.z, hk = blockIdx.y, g = p.Hq / p.Hkv;
  const int64_t key0 = (int64_t)blockIdx.x * SIMT_WARPS, j = key0 + w;
  const int rs = SIMT_WARPS * D, ts = SIMT_TILE * (D + 1);
  float *Ks = sm, *Vs = Ks + rs, *Kds = Vs + rs, *Vds = Kds + rs;
  float *Qs = Vds + rs, *Qds = Qs + ts, *dOs = Qds + ts, *dOds = dOs + ts;
  float *lse_s = dOds + ts, *mu_s = lse_s + SIMT_TILE, *del_s = mu_s + SIMT_TILE, *deld_s = del_s + SIMT_TILE;
  load_rows<T>(Ks, k, b, hk, key0, p.Nk, D);
  load_rows<T>(Vs, v, b, hk, key0, p.Nk, D);
  load_rows<T>(Kds, kd, b, hk, key0, p.Nk, D);
  load_rows<T>(Vds, vd, b, hk, key0, p.Nk, D);
  float akd[SIMT_MAXC], avd[SIMT_MAXC], ak[SIMT_MAXC], av[SIMT_MAXC];
#pragma unroll
  for (int c = 0; c < SIMT_MAXC; ++c) akd[c] = avd[c] = ak[c] = av[c] = 0.f;
  const int64_t key_last = min(key0 + SIMT_WARPS, p.Nk) - 1;
  int64_t i_start, i_end;
  simt_query_band(p, key0, key_last, &i_start, &i_end);
  for (int64_t hh = 0; hh < g; ++hh) {
    const int64_t h = hk * g + hh;
    for (int64_t i0 = i_start; i0 < i_end; i0 += SIMT_TILE) {
      const int64_t i = i0 + lane;
      int64_t qlo = 0, qhi = 0;
      if (i < p.Nq) mask_row_keys(mk, i, &qlo, &qhi);
      if (!__syncthreads_or(qlo < qhi && qlo <= key_last && qhi > key0)) continue;
      load_tile<T>(Qs, q, b, h, i0, p.Nq, D);
      load_tile<T>(Qds, qd, b, h, i0, p.Nq, D);
      load_tile<T>(dOs, dout, b, h, i0, p.Nq, D);
      load_tile<T>(dOds, doutd, b, h, i0, p.Nq, D);
      if (threadIdx.x < SIMT_TILE) {
        const int64_t ii = i0 + threadIdx.x;
        const bool in = ii < p.Nq;
        lse_s[threadIdx.x] = in ? ((const float *)lse.p)[voff(lse, b, h, ii, 0)] : -INFINITY;
        mu_s[threadIdx.x] = in ? ((const float *)mu.p)[voff(mu, b, h, ii, 0)] : 0.f;
        del_s[threadIdx.x] = in ? ((const float *)delta.p)[voff(delta, b, h, ii, 0)] : 0.f;
        deld_s[threadIdx.x] = in ? ((const float *)deltad.p)[voff(deltad, b, h, ii, 0)] : 0.f;
      }
      __syncthreads();
      if (j >= p.Nk) continue;
      const float li = lse_s[lane];
      const float bias = (mk.dm_kind && i < p.Nq && j >= qlo && j < qhi) ? mask_dense(mk, b, h, i, j) : 0.f;
      const bool valid = i < p.Nq && li != -INFINITY && j >= qlo && j < qhi && bias != -INFINITY;
      float P = 0.f, Pd = 0.f, dS = 0.f, dSd = 0.f;
      if (valid) {
        const float *qi = Qs + lane * (D + 1), *qdi = Qds + lane * (D + 1), *doi = dOs + lane * (D + 1),
                    *dodi = dOds + lane * (D + 1);
        const float *kj = Ks + w * D, *vj = Vs + w * D, *kdj = Kds + w * D, *vdj = Vds + w * D;
        const double s64 = p.scale * dot_row64(qi, kj, D) + (double)bias;
        const float sd = (float)(p.scale * (dot_row64(qdi, kj, D) + dot_row64(qi, kdj, D)));
        bj_pair(s64, li, mu_s[lane], del_s[lane], deld_s[lane], sd, dot_row(doi, vj, D),
                dot_row(dodi, vj, D) + dot_row(doi, vdj, D), &P, &Pd, &dS, &dSd);
      }
      for (int ii = 0; ii < SIMT_TILE; ++ii) {
        const float pb = __shfl_sync(0xffffffffu, P, ii), pdb = __shfl_sync(0xffffffffu, Pd, ii);
        const float ds = __shfl_sync(0xffffffffu, dS, ii), dsd = __shfl_sync(0xffffffffu, dSd, ii);
#pragma unroll
        for (int c = 0; c < SIMT_MAXC; ++c) {
          const int d = lane + 32 * c;
          if (d < D) {
            const float qv = Qs[ii * (D + 1) + d], dov = dOs[ii * (D + 1) + d];
            akd[c] = fmaf(dsd, qv, fmaf(ds, Qds[ii * (D + 1) + d], akd[c]));
            avd[c] = fmaf(pdb, dov, fmaf(pb, dOds[ii * (D + 1) + d], avd[c]));
            ak[c] = fmaf(ds, qv, ak[c]);
            av[c] = fmaf(pb, dov, av[c]);
          }
        }
      }
    }
  }
  if (j >= p.Nk) return;
  const float scale = (float)p.scale;
#pragma unroll
  for (int c = 0; c < SIMT_MAXC; ++c) {
    const int d = lane + 32 * c;
    if (d < D) {
      bj_put<TO>(dkd, b, hk, j, d, scale * akd[c], accumulate);
      bj_put<TO>(dvd, b, hk, j, d, avd[c], accumulate);
      bj_put<TO>(dk, b, hk, j, d, scale * ak[c], accumulate);
      bj_put<TO>(dv, b, hk, j, d, av[c], accumulate);
    }
  }
}

/* ---- host side ----------------------------------------------------------------------------- */

/* The three launches with fp32 views of the statistics. */
static jfa_status_t bj_run(cudaStream_t st, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k,
                           const jfa_tensor_t *v, const jfa_tensor_t *qd, const jfa_tensor_t *kd,
                           const jfa_tensor_t *vd, const jfa_tensor_t *dout, const jfa_tensor_t *doutd, View lse,
                           View mu, View delta, View deltad, const jfa_tensor_t *dqd, const jfa_tensor_t *dkd,
                           const jfa_tensor_t *dvd, const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                           const jfa_tensor_t *dv, int accumulate, const MaskDev &mk) {
  const int D = (int)p->D;
  const size_t smem_q = simt_bwd_jvp_dq_smem(D), smem_k = simt_bwd_jvp_dkdv_smem(D);
  const dim3 gq((unsigned)((p->Nq + SIMT_WARPS - 1) / SIMT_WARPS), (unsigned)p->Hq, (unsigned)p->B);
  const dim3 gk((unsigned)((p->Nk + SIMT_WARPS - 1) / SIMT_WARPS), (unsigned)p->Hkv, (unsigned)p->B);
  const bool f32out = dqd->dtype == JFA_DTYPE_FLOAT32;
#define BJ_LAUNCH(T, TO)                                                                                          \
  do {                                                                                                            \
    JFA_CHECK(smem_optin(bj_dq_kernel<T, TO>, smem_q));                                                              \
    bj_dq_kernel<T, TO><<<gq, 256, smem_q, st>>>(*p, make_view(q), make_view(k), make_view(v), make_view(qd),     \
                                                 make_view(kd), make_view(vd), make_view(dout), make_view(doutd), \
                                                 lse, mu, delta, deltad, make_view(dqd), make_view(dq),           \
                                                 accumulate, mk);                                                 \
    JFA_LAUNCH_CHECK();                                                                                           \
    JFA_CHECK(smem_optin(bj_dkdv_kernel<T, TO>, smem_k));                                                            \
    bj_dkdv_kernel<T, TO><<<gk, 256, smem_k, st>>>(*p, make_view(q), make_view(k), make_view(v), make_view(qd),   \
                                                   make_view(kd), make_view(vd), make_view(dout),                 \
                                                   make_view(doutd), lse, mu, delta, deltad, make_view(dkd),      \
                                                   make_view(dvd), make_view(dk), make_view(dv), accumulate, mk); \
    JFA_LAUNCH_CHECK();                                                                                           \
  } while (0)
  SIMT_DISPATCH(q->dtype, T, {
    if (f32out) BJ_LAUNCH(T, float);
    else BJ_LAUNCH(T, T);
  });
#undef BJ_LAUNCH
  return JFA_SUCCESS;
}

extern "C" jfa_status_t jfa_cuda_attention_delta_jvp(jfa_context_t *ctx, const jfa_problem_t *p,
                                                     const jfa_tensor_t *o, const jfa_tensor_t *od,
                                                     const jfa_tensor_t *dout, const jfa_tensor_t *doutd,
                                                     const jfa_tensor_t *delta, const jfa_tensor_t *deltad) {
  JFA_CHECK(cuda_call_checks(ctx, p, o));
  JFA_CHECK(need_f32(delta, "delta"));
  JFA_CHECK(need_f32(deltad, "deltad"));
  JFA_DEVICE_GUARD(g, ctx);
  const int64_t rows = p->B * p->Hq * p->Nq;
  if (rows == 0) return JFA_SUCCESS;
  unsigned gx = 0;
  JFA_CHECK(grid_1d((rows + SIMT_WARPS - 1) / SIMT_WARPS, "backward-JVP delta", &gx));
  const dim3 grid(gx);
  SIMT_DISPATCH(o->dtype, T, {
    bj_delta_kernel<T><<<grid, 256, 0, ctx_stream(ctx)>>>(*p, make_view(o), make_view(od), make_view(dout),
                                                          make_view(doutd), make_view(delta), make_view(deltad));
  });
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

/* The simt rows of the backward-JVP table (backend.cu): every call the device can launch (the last row). */
const char *simt_bwd_jvp_why_not(const BwdJvpCall &c) {
  const int D = (int)c.p->D;
  return simt_limits_why_not(c.cs, c.p,
                             std::max(simt_bwd_jvp_dq_smem(D) + SIMT_KEY_RANGE_SMEM, simt_bwd_jvp_dkdv_smem(D)), true);
}

jfa_status_t simt_bwd_jvp_run(const BwdJvpCall &c) {
  return bj_run(ctx_stream(c.ctx), c.p, c.q, c.k, c.v, c.qd, c.kd, c.vd, c.dout, c.doutd, c.lse, c.mu, c.delta,
                c.deltad, c.dqd, c.dkd, c.dvd, c.dq, c.dk, c.dv, c.accumulate, *c.mk);
}

jfa_status_t simt_backward_jvp_dq(cudaStream_t st, const jfa_problem_t *p, const jfa_tensor_t *q,
                                  const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *qd,
                                  const jfa_tensor_t *kd, const jfa_tensor_t *vd, const jfa_tensor_t *dout,
                                  const jfa_tensor_t *doutd, View lse, View mu, View delta, View deltad,
                                  const jfa_tensor_t *dqd, const jfa_tensor_t *dq, int accumulate,
                                  const MaskDev &mk) {
  if (!dqd && !dq) return JFA_SUCCESS;
  const int D = (int)p->D;
  const size_t smem_q = simt_bwd_jvp_dq_smem(D);
  const dim3 gq((unsigned)((p->Nq + SIMT_WARPS - 1) / SIMT_WARPS), (unsigned)p->Hq, (unsigned)p->B);
  const bool f32out = accumulate != 0;
#define BJ_LAUNCH_DQ(T, TO)                                                                                      \
  do {                                                                                                           \
    JFA_CHECK(smem_optin(bj_dq_kernel<T, TO>, smem_q));                                                          \
    bj_dq_kernel<T, TO><<<gq, 256, smem_q, st>>>(*p, make_view(q), make_view(k), make_view(v), make_view(qd),    \
                                                 make_view(kd), make_view(vd), make_view(dout), make_view(doutd), \
                                                 lse, mu, delta, deltad, make_view(dqd), make_view(dq),          \
                                                 accumulate, mk);                                                \
    JFA_LAUNCH_CHECK();                                                                                          \
  } while (0)
  SIMT_DISPATCH(q->dtype, T, {
    if (f32out) BJ_LAUNCH_DQ(T, float);
    else BJ_LAUNCH_DQ(T, T);
  });
#undef BJ_LAUNCH_DQ
  return JFA_SUCCESS;
}
