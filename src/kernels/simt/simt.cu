/*
 * simt.cu - plain (CUDA-core, fp32 arithmetic) attention kernels of jfa: forward,
 * fused forward+JVP, and the deterministic backward split in two kernels (dQ: a warp
 * per query row; dK/dV: a warp per key row looping over its GQA group's queries).
 * They take any dtype, any strides, any D <= 256 and every mask of jfa_problem_t
 * (per-row key intervals from mask_row_keys, dense masks per element; tiles no row
 * of the CTA sees are skipped); they are the float32 path and the fallback when the
 * tensor-core kernels do not apply. One warp owns one row;
 * the JVP accumulates the tangent against the running mu (see sm80/fwd.cuh);
 * within a 32-key (or 32-query) tile lane j scores key (query) j, and lane l owns
 * the head dims l, l + 32, ... of the row's accumulators.
 */
#include "kernels/simt/simt_common.cuh"

/* grid: (ceil(Nq / 8), Hq, B). */
template <typename T, bool JVP>
__global__ void __launch_bounds__(256) simt_fwd_kernel(jfa_problem_t p, View q, View k, View v, View qd, View kd,
                                                       View vd, View o, View lse, View od, View mu,
                                                       int accumulate, MaskDev mk) {
  extern __shared__ float sm[];
  const int D = (int)p.D, w = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int64_t b = blockIdx.z, h = blockIdx.y, hk = h / (p.Hq / p.Hkv);
  const int64_t row0 = (int64_t)blockIdx.x * SIMT_WARPS, i = row0 + w;
  const int ts = SIMT_TILE * (D + 1);
  float *Qs = sm, *Qds = sm + SIMT_WARPS * D;
  float *Ks = sm + 2 * SIMT_WARPS * D, *Vs = Ks + ts, *Kds = Vs + ts, *Vds = Kds + ts;

  load_rows<T>(Qs, q, b, h, row0, p.Nq, D);
  if (JVP) load_rows<T>(Qds, qd, b, h, row0, p.Nq, D);

  float m = -INFINITY, l = 0.f, nu = 0.f, cref = 0.f;
  float acc[SIMT_MAXC], accd[SIMT_MAXC];
#pragma unroll
  for (int c = 0; c < SIMT_MAXC; ++c) acc[c] = accd[c] = 0.f;

  /* this row's keys [klo, khi) and the keys visible to any row of this CTA */
  int64_t klo = 0, khi = 0, nk_beg, nk_end;
  if (i < p.Nq) mask_row_keys(mk, i, &klo, &khi);
  cta_key_range(klo, khi, &nk_beg, &nk_end);
  for (int64_t j0 = nk_beg; j0 < nk_end; j0 += SIMT_TILE) {
    __syncthreads();
    load_tile<T>(Ks, k, b, hk, j0, p.Nk, D);
    load_tile<T>(Vs, v, b, hk, j0, p.Nk, D);
    if (JVP) {
      load_tile<T>(Kds, kd, b, hk, j0, p.Nk, D);
      load_tile<T>(Vds, vd, b, hk, j0, p.Nk, D);
    }
    __syncthreads();
    if (i >= p.Nq) continue;
    const int64_t j = j0 + lane;
    const float bias = (mk.dm_kind && j >= klo && j < khi) ? mask_dense(mk, b, h, i, j) : 0.f;
    bool valid = j >= klo && j < khi && bias != -INFINITY;
    const double s64 = valid ? p.scale * dot_row64(Qs + w * D, Ks + lane * (D + 1), D) + (double)bias : -INFINITY;
    const float s = (float)s64;
    float sd = 0.f;
    if (JVP && valid)
      sd = (float)(p.scale * (dot_row64(Qds + w * D, Ks + lane * (D + 1), D) +
                              dot_row64(Qs + w * D, Kds + lane * (D + 1), D)));
    float mt = warp_max(s);
    float mn = fmax_nan(m, mt);
    if (mn == -INFINITY) continue;
    float alpha = (m == -INFINITY) ? 0.f : expf(m - mn);
    float pj = valid ? expf((float)(s64 - (double)mn)) : 0.f;
    m = mn;
    l = l * alpha + warp_sum(pj);
    /* the tangent accumulates against the running mu cref (no cancellation in Od = accd / l):
       accd = sum p (sd - cref) V + p Vd; moving the reference shifts it by (c_old - c_new) O~ */
    float shift = 0.f;
    if (JVP) {
      nu = nu * alpha + warp_sum(pj * sd);
      const float cnew = l != 0.f ? nu / l : 0.f;
      shift = cref - cnew;
      cref = cnew;
    }
#pragma unroll
    for (int c = 0; c < SIMT_MAXC; ++c) {
      acc[c] *= alpha;
      if (JVP) accd[c] = fmaf(shift, acc[c], accd[c] * alpha);
    }
    for (int jj = 0; jj < SIMT_TILE; ++jj) {
      float pb = __shfl_sync(0xffffffffu, pj, jj);
      float psd = JVP ? __shfl_sync(0xffffffffu, pj * (sd - cref), jj) : 0.f;
      /* masked keys (and the tile's rows past Nk) are skipped; a visible key whose probability underflows to 0 is
         read, so that 0 * NaN in its V, Vd (or its tangent's score) is NaN, as the math (it was skipped on pb == 0,
         hiding such a NaN: tests/common/nan_prop.c NP_VU / NP_VDU) */
      if (!__shfl_sync(0xffffffffu, (int)valid, jj)) continue;
#pragma unroll
      for (int c = 0; c < SIMT_MAXC; ++c) {
        int d = lane + 32 * c;
        if (d < D) {
          float vv = Vs[jj * (D + 1) + d];
          acc[c] = fmaf(pb, vv, acc[c]);
          if (JVP) accd[c] = fmaf(psd, vv, fmaf(pb, Vds[jj * (D + 1) + d], accd[c]));
        }
      }
    }
  }
  if (i >= p.Nq) return;
  float inv = l != 0.f ? 1.f / l : 0.f; /* l == 0: no visible key; NaN: a NaN score, NaN out */
  float lse_v = l != 0.f ? m + logf(l) : -INFINITY;
  float mu_v = cref; /* = nu / l of the last tile; 0 for a row that saw no key */
  if (!accumulate) {
#pragma unroll
    for (int c = 0; c < SIMT_MAXC; ++c) {
      int d = lane + 32 * c;
      if (d < D) {
        float ov = acc[c] * inv;
        ((T *)o.p)[voff(o, b, h, i, d)] = from_f<T>(ov);
        if (JVP) ((T *)od.p)[voff(od, b, h, i, d)] = from_f<T>(accd[c] * inv);
      }
    }
    if (lane == 0) {
      if (lse.p) ((float *)lse.p)[voff(lse, b, h, i, 0)] = lse_v;
      if (JVP && mu.p) ((float *)mu.p)[voff(mu, b, h, i, 0)] = mu_v;
    }
    return;
  }
  /* merge into fp32 accumulators */
  float la = ((float *)lse.p)[voff(lse, b, h, i, 0)];
  float ma = (JVP && mu.p) ? ((float *)mu.p)[voff(mu, b, h, i, 0)] : 0.f;
  __syncwarp();
  float mx = fmax_nan(la, lse_v);
  float wa = 0.f, wp = 0.f, lse_n = -INFINITY, mu_n = 0.f;
  if (mx != -INFINITY) {
    float ea = expf(la - mx), ep = expf(lse_v - mx), sum = ea + ep;
    lse_n = mx + logf(sum);
    wa = ea / sum;
    wp = ep / sum;
    mu_n = wa * ma + wp * mu_v;
  }
#pragma unroll
  for (int c = 0; c < SIMT_MAXC; ++c) {
    int d = lane + 32 * c;
    if (d < D) {
      float op = acc[c] * inv;
      float *po = (float *)o.p + voff(o, b, h, i, d);
      float oa = *po;
      if (JVP) {
        float odp = accd[c] * inv;
        float *pod = (float *)od.p + voff(od, b, h, i, d);
        float oda = *pod;
        *pod = (la != -INFINITY ? wa * (oda + (ma - mu_n) * oa) : 0.f) +
               (lse_v != -INFINITY ? wp * (odp + (mu_v - mu_n) * op) : 0.f);
      }
      /* an empty partial (lse = -inf) adds nothing; any other is weighed (cpu/merge.c) */
      *po = (la != -INFINITY ? wa * oa : 0.f) + (lse_v != -INFINITY ? wp * op : 0.f);
    }
  }
  __syncwarp();
  if (lane == 0) {
    ((float *)lse.p)[voff(lse, b, h, i, 0)] = lse_n;
    if (JVP && mu.p) ((float *)mu.p)[voff(mu, b, h, i, 0)] = mu_n;
  }
}

static jfa_status_t check_d(const jfa_problem_t *p) {
  if (p->D > 256) JFA_FAIL(JFA_ERROR_UNSUPPORTED, "head dim D = %lld > 256 is not supported on CUDA", (long long)p->D);
  return JFA_SUCCESS;
}

jfa_status_t simt_forward(cudaStream_t st, const jfa_problem_t *p, const jfa_tensor_t *q, const jfa_tensor_t *k,
                          const jfa_tensor_t *v, const jfa_tensor_t *qd, const jfa_tensor_t *kd,
                          const jfa_tensor_t *vd, const jfa_tensor_t *o, const jfa_tensor_t *lse,
                          const jfa_tensor_t *od, const jfa_tensor_t *mu, int accumulate, const MaskDev &mk) {
  JFA_CHECK(check_d(p));
  if (p->B * p->Hq * p->Nq == 0) return JFA_SUCCESS;
  const int D = (int)p->D;
  bool jvp = qd != nullptr;
  const size_t smem = simt_fwd_smem(D, jvp); /* Kd, Vd's tiles only with the JVP */
  dim3 grid((unsigned)((p->Nq + SIMT_WARPS - 1) / SIMT_WARPS), (unsigned)p->Hq, (unsigned)p->B);
  SIMT_DISPATCH(q->dtype, T, {
    if (jvp) {
      JFA_CHECK(smem_optin(simt_fwd_kernel<T, true>, smem));
      simt_fwd_kernel<T, true><<<grid, 256, smem, st>>>(*p, make_view(q), make_view(k), make_view(v), make_view(qd),
                                                        make_view(kd), make_view(vd), make_view(o), make_view(lse),
                                                        make_view(od), make_view(mu), accumulate, mk);
    } else {
      JFA_CHECK(smem_optin(simt_fwd_kernel<T, false>, smem));
      simt_fwd_kernel<T, false><<<grid, 256, smem, st>>>(*p, make_view(q), make_view(k), make_view(v), View{},
                                                         View{}, View{}, make_view(o), make_view(lse), View{},
                                                         View{}, accumulate, mk);
    }
  });
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

/* ---- backward: dQ, a warp per query row; grid (ceil(Nq / 8), Hq, B) ---------------- */
template <typename T, typename TO>
__global__ void __launch_bounds__(256) simt_dq_kernel(jfa_problem_t p, View q, View k, View v, View dout, View lse,
                                                      View delta, View dq, int accumulate, MaskDev mk) {
  extern __shared__ float sm[];
  const int D = (int)p.D, w = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int64_t b = blockIdx.z, h = blockIdx.y, hk = h / (p.Hq / p.Hkv);
  const int64_t row0 = (int64_t)blockIdx.x * SIMT_WARPS, i = row0 + w;
  const int ts = SIMT_TILE * (D + 1);
  float *Qs = sm, *dOs = sm + SIMT_WARPS * D, *Ks = sm + 2 * SIMT_WARPS * D, *Vs = Ks + ts;
  const float scale = (float)p.scale;
  load_rows<T>(Qs, q, b, h, row0, p.Nq, D);
  load_rows<T>(dOs, dout, b, h, row0, p.Nq, D);
  float lse_i = 0.f, delta_i = 0.f;
  if (i < p.Nq) {
    lse_i = ((const float *)lse.p)[voff(lse, b, h, i, 0)];
    delta_i = ((const float *)delta.p)[voff(delta, b, h, i, 0)];
  }
  float acc[SIMT_MAXC];
#pragma unroll
  for (int c = 0; c < SIMT_MAXC; ++c) acc[c] = 0.f;
  int64_t klo = 0, khi = 0, nk_beg, nk_end;
  if (i < p.Nq) mask_row_keys(mk, i, &klo, &khi);
  cta_key_range(klo, khi, &nk_beg, &nk_end);
  for (int64_t j0 = nk_beg; j0 < nk_end; j0 += SIMT_TILE) {
    __syncthreads();
    load_tile<T>(Ks, k, b, hk, j0, p.Nk, D);
    load_tile<T>(Vs, v, b, hk, j0, p.Nk, D);
    __syncthreads();
    if (i >= p.Nq || lse_i == -INFINITY) continue;
    const int64_t j = j0 + lane;
    const float bias = (mk.dm_kind && j >= klo && j < khi) ? mask_dense(mk, b, h, i, j) : 0.f;
    bool valid = j >= klo && j < khi && bias != -INFINITY;
    float ds = 0.f;
    if (valid) {
      const double s64 = p.scale * dot_row64(Qs + w * D, Ks + lane * (D + 1), D) + (double)bias;
      float dp = dot_row(dOs + w * D, Vs + lane * (D + 1), D);
      float pr = p_cap1(expf((float)(s64 - (double)lse_i)));
      ds = pr * (dp - delta_i);
    }
    for (int jj = 0; jj < SIMT_TILE; ++jj) {
      float db = __shfl_sync(0xffffffffu, ds, jj);
#pragma unroll
      for (int c = 0; c < SIMT_MAXC; ++c) {
        int d = lane + 32 * c;
        if (d < D) acc[c] = fmaf(db, Ks[jj * (D + 1) + d], acc[c]);
      }
    }
  }
  if (i >= p.Nq) return;
#pragma unroll
  for (int c = 0; c < SIMT_MAXC; ++c) {
    int d = lane + 32 * c;
    if (d < D) {
      TO *pd = (TO *)dq.p + voff(dq, b, h, i, d);
      float x = scale * acc[c];
      if (accumulate) x += to_f(*pd);
      *pd = from_f<TO>(x);
    }
  }
}

/* ---- backward: dK, dV, a warp per key row; grid (ceil(Nk / 8), Hkv, B) ------------- */
template <typename T, typename TO>
__global__ void __launch_bounds__(256) simt_dkdv_kernel(jfa_problem_t p, View q, View k, View v, View dout,
                                                        View lse, View delta, View dk, View dv, int accumulate,
                                                        MaskDev mk) {
  extern __shared__ float sm[];
  const int D = (int)p.D, w = threadIdx.x / 32, lane = threadIdx.x & 31;
  const int64_t b = blockIdx.z, hk = blockIdx.y, g = p.Hq / p.Hkv;
  const int64_t key0 = (int64_t)blockIdx.x * SIMT_WARPS, j = key0 + w;
  const int ts = SIMT_TILE * (D + 1);
  float *Ks = sm, *Vs = sm + SIMT_WARPS * D, *Qs = sm + 2 * SIMT_WARPS * D, *dOs = Qs + ts;
  float *lse_s = dOs + ts, *del_s = lse_s + SIMT_TILE;
  const float scale = (float)p.scale;
  load_rows<T>(Ks, k, b, hk, key0, p.Nk, D);
  load_rows<T>(Vs, v, b, hk, key0, p.Nk, D);
  float adk[SIMT_MAXC], adv[SIMT_MAXC];
#pragma unroll
  for (int c = 0; c < SIMT_MAXC; ++c) adk[c] = adv[c] = 0.f;
  const int64_t key_last = min(key0 + SIMT_WARPS, p.Nk) - 1;
  int64_t i_start, i_end;
  simt_query_band(p, key0, key_last, &i_start, &i_end);
  for (int64_t hh = 0; hh < g; ++hh) {
    const int64_t h = hk * g + hh;
    for (int64_t i0 = i_start; i0 < i_end; i0 += SIMT_TILE) {
      /* this lane's query row and its keys; the tile is skipped when no row sees a key of this CTA.
         __syncthreads_or is also the barrier before the tile buffers are overwritten. */
      const int64_t iq = i0 + lane;
      int64_t qlo = 0, qhi = 0;
      if (iq < p.Nq) mask_row_keys(mk, iq, &qlo, &qhi);
      if (!__syncthreads_or(qlo < qhi && qlo <= key_last && qhi > key0)) continue;
      load_tile<T>(Qs, q, b, h, i0, p.Nq, D);
      load_tile<T>(dOs, dout, b, h, i0, p.Nq, D);
      if (threadIdx.x < SIMT_TILE) {
        int64_t ii = i0 + threadIdx.x;
        lse_s[threadIdx.x] = ii < p.Nq ? ((const float *)lse.p)[voff(lse, b, h, ii, 0)] : -INFINITY;
        del_s[threadIdx.x] = ii < p.Nq ? ((const float *)delta.p)[voff(delta, b, h, ii, 0)] : 0.f;
      }
      __syncthreads();
      if (j >= p.Nk) continue;
      const int64_t i = iq;
      const float li = lse_s[lane];
      const float bias = (mk.dm_kind && i < p.Nq && j >= qlo && j < qhi) ? mask_dense(mk, b, h, i, j) : 0.f;
      bool valid = i < p.Nq && li != -INFINITY && j >= qlo && j < qhi && bias != -INFINITY;
      float pr = 0.f, ds = 0.f;
      if (valid) {
        const double s64 = p.scale * dot_row64(Qs + lane * (D + 1), Ks + w * D, D) + (double)bias;
        float dp = dot_row(dOs + lane * (D + 1), Vs + w * D, D);
        pr = p_cap1(expf((float)(s64 - (double)li)));
        ds = pr * (dp - del_s[lane]);
      }
      for (int ii = 0; ii < SIMT_TILE; ++ii) {
        float pb = __shfl_sync(0xffffffffu, pr, ii);
        float db = __shfl_sync(0xffffffffu, ds, ii);
#pragma unroll
        for (int c = 0; c < SIMT_MAXC; ++c) {
          int d = lane + 32 * c;
          if (d < D) {
            adv[c] = fmaf(pb, dOs[ii * (D + 1) + d], adv[c]);
            adk[c] = fmaf(db, Qs[ii * (D + 1) + d], adk[c]);
          }
        }
      }
    }
  }
  if (j >= p.Nk) return;
#pragma unroll
  for (int c = 0; c < SIMT_MAXC; ++c) {
    int d = lane + 32 * c;
    if (d < D) {
      TO *pk = (TO *)dk.p + voff(dk, b, hk, j, d);
      TO *pv = (TO *)dv.p + voff(dv, b, hk, j, d);
      float xk = scale * adk[c], xv = adv[c];
      if (accumulate) {
        xk += to_f(*pk);
        xv += to_f(*pv);
      }
      *pk = from_f<TO>(xk);
      *pv = from_f<TO>(xv);
    }
  }
}

jfa_status_t simt_backward_dq(cudaStream_t st, const jfa_problem_t *p, const jfa_tensor_t *q,
                              const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *dout, View lse,
                              View delta, const jfa_tensor_t *dq, int accumulate, const MaskDev &mk) {
  JFA_CHECK(check_d(p));
  if (p->B * p->Hq * p->Nq == 0) return JFA_SUCCESS;
  const int D = (int)p->D;
  const size_t smem = simt_bwd_dq_smem(D);
  dim3 grid((unsigned)((p->Nq + SIMT_WARPS - 1) / SIMT_WARPS), (unsigned)p->Hq, (unsigned)p->B);
  SIMT_DISPATCH(q->dtype, T, {
    if (dq->dtype == JFA_DTYPE_FLOAT32) {
      JFA_CHECK(smem_optin(simt_dq_kernel<T, float>, smem));
      simt_dq_kernel<T, float><<<grid, 256, smem, st>>>(*p, make_view(q), make_view(k), make_view(v),
                                                        make_view(dout), lse, delta, make_view(dq), accumulate, mk);
    } else {
      JFA_CHECK(smem_optin(simt_dq_kernel<T, T>, smem));
      simt_dq_kernel<T, T><<<grid, 256, smem, st>>>(*p, make_view(q), make_view(k), make_view(v), make_view(dout),
                                                    lse, delta, make_view(dq), accumulate, mk);
    }
  });
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

jfa_status_t simt_backward_dkdv(cudaStream_t st, const jfa_problem_t *p, const jfa_tensor_t *q,
                                const jfa_tensor_t *k, const jfa_tensor_t *v, const jfa_tensor_t *dout, View lse,
                                View delta, const jfa_tensor_t *dk, const jfa_tensor_t *dv, int accumulate,
                                const MaskDev &mk) {
  JFA_CHECK(check_d(p));
  if (p->B * p->Hkv * p->Nk == 0) return JFA_SUCCESS;
  const int D = (int)p->D;
  const size_t smem = simt_bwd_dkdv_smem(D);
  dim3 grid((unsigned)((p->Nk + SIMT_WARPS - 1) / SIMT_WARPS), (unsigned)p->Hkv, (unsigned)p->B);
  SIMT_DISPATCH(q->dtype, T, {
    if (dk->dtype == JFA_DTYPE_FLOAT32) {
      JFA_CHECK(smem_optin(simt_dkdv_kernel<T, float>, smem));
      simt_dkdv_kernel<T, float><<<grid, 256, smem, st>>>(*p, make_view(q), make_view(k), make_view(v),
                                                          make_view(dout), lse, delta, make_view(dk), make_view(dv),
                                                          accumulate, mk);
    } else {
      JFA_CHECK(smem_optin(simt_dkdv_kernel<T, T>, smem));
      simt_dkdv_kernel<T, T><<<grid, 256, smem, st>>>(*p, make_view(q), make_view(k), make_view(v),
                                                      make_view(dout), lse, delta, make_view(dk), make_view(dv),
                                                      accumulate, mk);
    }
  });
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}
