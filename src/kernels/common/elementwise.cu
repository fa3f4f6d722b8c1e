/*
 * elementwise.cu - the simple kernels of jfa's CUDA backend: convert (any dtype to
 * any dtype, any strides), fill, the log-sum-exp merge of partial results, the
 * backward's delta = rowsum(dout * o), and scale-and-add of fp32 workspaces (delta and
 * scale-and-add read rows 16 bytes at a time where the layout allows: vec16_ok, float32 too).
 */
#include "kernels/family.h"

/* ---- dtype dispatch ---------------------------------------------------------- */
#define JFA_DISPATCH(dt, T, ...)                                              \
  switch (dt) {                                                               \
    case JFA_DTYPE_FLOAT64: { typedef double T; __VA_ARGS__; } break;         \
    case JFA_DTYPE_FLOAT32: { typedef float T; __VA_ARGS__; } break;          \
    case JFA_DTYPE_FLOAT16: { typedef __half T; __VA_ARGS__; } break;         \
    case JFA_DTYPE_BFLOAT16: { typedef __nv_bfloat16 T; __VA_ARGS__; } break; \
    default: JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "unknown dtype %d", (int)(dt)); \
  }

__device__ __forceinline__ double to_d(double x) { return x; }
__device__ __forceinline__ double to_d(float x) { return x; }
__device__ __forceinline__ double to_d(__half x) { return __half2float(x); }
__device__ __forceinline__ double to_d(__nv_bfloat16 x) { return __bfloat162float(x); }
template <typename T> __device__ __forceinline__ T from_d(double x) { return from_f<T>((float)x); }
template <> __device__ __forceinline__ double from_d<double>(double x) { return x; }

struct Shape4 {
  int64_t n0, n1, n2, n3;
};
static inline Shape4 shape_of(const jfa_tensor_t *t) {
  Shape4 s = {t->shape[0], t->shape[1], t->shape[2], t->shape[3]};
  return s;
}
__device__ __forceinline__ void unflatten(int64_t i, const Shape4 &s, int64_t *a, int64_t *b, int64_t *c,
                                          int64_t *d) {
  *d = i % s.n3;
  i /= s.n3;
  *c = i % s.n2;
  i /= s.n2;
  *b = i % s.n1;
  *a = i / s.n1;
}
static inline int grid_for(int64_t n, int threads) {
  int64_t g = (n + threads - 1) / threads;
  if (g > 65535 * 8) g = 65535 * 8;
  if (g < 1) g = 1;
  return (int)g;
}

template <typename Ts, typename Td>
__global__ void convert_kernel(View src, View dst, Shape4 s, int64_t n) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t a, b, c, d;
    unflatten(i, s, &a, &b, &c, &d);
    ((Td *)dst.p)[voff(dst, a, b, c, d)] = from_d<Td>(to_d(((const Ts *)src.p)[voff(src, a, b, c, d)]));
  }
}

extern "C" jfa_status_t jfa_cuda_convert(jfa_context_t *ctx, const jfa_tensor_t *src, const jfa_tensor_t *dst) {
  JFA_DEVICE_GUARD(g, ctx);
  int64_t n = jfa_tensor_numel(dst);
  if (n == 0) return JFA_SUCCESS;
  Shape4 s = shape_of(dst);
  JFA_DISPATCH(src->dtype, Ts, JFA_DISPATCH(dst->dtype, Td, (convert_kernel<Ts, Td><<<grid_for(n, 256), 256, 0, ctx_stream(ctx)>>>(make_view(src), make_view(dst), s, n))));
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

template <typename T>
__global__ void fill_kernel(View dst, Shape4 s, int64_t n, double value) {
  T v = from_d<T>(value);
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t a, b, c, d;
    unflatten(i, s, &a, &b, &c, &d);
    ((T *)dst.p)[voff(dst, a, b, c, d)] = v;
  }
}

extern "C" jfa_status_t jfa_cuda_fill(jfa_context_t *ctx, const jfa_tensor_t *dst, double value) {
  JFA_DEVICE_GUARD(g, ctx);
  int64_t n = jfa_tensor_numel(dst);
  if (n == 0) return JFA_SUCCESS;
  Shape4 s = shape_of(dst);
  JFA_DISPATCH(dst->dtype, T, (fill_kernel<T><<<grid_for(n, 256), 256, 0, ctx_stream(ctx)>>>(make_view(dst), s, n, value)));
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

/* ---- merge: one warp per row ------------------------------------------------- */
template <typename Tp, typename Ts>
__global__ void merge_kernel(View o_acc, View lse_acc, View od_acc, View mu_acc, View o_p, View lse_p, View od_p,
                             View mu_p, int64_t H, int64_t N, int64_t D, int64_t rows, bool jvp) {
  int64_t row = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x & 31;
  if (row >= rows) return;
  int64_t n = row % N, h = (row / N) % H, b = row / (N * H);
  float la = 0.f, lp = 0.f, ma = 0.f, mp = 0.f;
  if (lane == 0) {
    la = ((float *)lse_acc.p)[voff(lse_acc, b, h, n, 0)];
    lp = to_f(((const Ts *)lse_p.p)[voff(lse_p, b, h, n, 0)]);
    if (jvp) {
      ma = ((float *)mu_acc.p)[voff(mu_acc, b, h, n, 0)];
      mp = to_f(((const Ts *)mu_p.p)[voff(mu_p, b, h, n, 0)]);
    }
  }
  la = __shfl_sync(0xffffffffu, la, 0);
  lp = __shfl_sync(0xffffffffu, lp, 0);
  ma = __shfl_sync(0xffffffffu, ma, 0);
  mp = __shfl_sync(0xffffffffu, mp, 0);
  float mx = fmax_nan(la, lp); /* NaN in either partial: NaN out */
  float wa = 0.f, wp = 0.f, lse = -INFINITY, mu = 0.f;
  if (mx != -INFINITY) {
    float ea = expf(la - mx), ep = expf(lp - mx);
    float sum = ea + ep;
    lse = mx + logf(sum);
    wa = ea / sum;
    wp = ep / sum;
    mu = wa * ma + wp * mp;
  }
  for (int64_t d = lane; d < D; d += 32) {
    float *po = (float *)o_acc.p + voff(o_acc, b, h, n, d);
    float oa = *po, op = to_f(((const Tp *)o_p.p)[voff(o_p, b, h, n, d)]);
    if (jvp) {
      float *pod = (float *)od_acc.p + voff(od_acc, b, h, n, d);
      float oda = *pod, odp = to_f(((const Tp *)od_p.p)[voff(od_p, b, h, n, d)]);
      *pod = (la != -INFINITY ? wa * (oda + (ma - mu) * oa) : 0.f) +
             (lp != -INFINITY ? wp * (odp + (mp - mu) * op) : 0.f);
    }
    /* an empty partial (lse = -inf) adds nothing; any other is weighed (an underflowed weight times a NaN is NaN,
       as the math: cpu/merge.c) */
    *po = (la != -INFINITY ? wa * oa : 0.f) + (lp != -INFINITY ? wp * op : 0.f);
  }
  if (lane == 0) {
    ((float *)lse_acc.p)[voff(lse_acc, b, h, n, 0)] = lse;
    if (jvp) ((float *)mu_acc.p)[voff(mu_acc, b, h, n, 0)] = mu;
  }
}

extern "C" jfa_status_t jfa_cuda_attention_merge(jfa_context_t *ctx, const jfa_tensor_t *o_acc,
                                                 const jfa_tensor_t *lse_acc, const jfa_tensor_t *od_acc,
                                                 const jfa_tensor_t *mu_acc, const jfa_tensor_t *o_part,
                                                 const jfa_tensor_t *lse_part, const jfa_tensor_t *od_part,
                                                 const jfa_tensor_t *mu_part) {
  JFA_DEVICE_GUARD(g, ctx);
  if (o_acc->dtype != JFA_DTYPE_FLOAT32 || lse_acc->dtype != JFA_DTYPE_FLOAT32 ||
      (od_acc && od_acc->dtype != JFA_DTYPE_FLOAT32) || (mu_acc && mu_acc->dtype != JFA_DTYPE_FLOAT32))
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "o_acc, lse_acc, od_acc and mu_acc must be float32 on CUDA");
  if ((od_part && od_part->dtype != o_part->dtype) ||
      (lse_part->dtype != o_part->dtype && lse_part->dtype != JFA_DTYPE_FLOAT32) ||
      (mu_part && mu_part->dtype != lse_part->dtype))
    JFA_FAIL(JFA_ERROR_UNSUPPORTED,
             "on CUDA od_part must have o_part's dtype, and lse_part, mu_part o_part's dtype or float32");
  bool jvp = od_acc && mu_acc && od_part && mu_part;
  int64_t B = o_acc->shape[0], H = o_acc->shape[1], N = o_acc->shape[2], D = o_acc->shape[3];
  int64_t rows = B * H * N;
  if (rows == 0) return JFA_SUCCESS;
  int threads = 256;
  unsigned blocks = 0;
  JFA_CHECK(grid_1d((rows + 7) / 8, "merge", &blocks));
  const bool stats_f32 = lse_part->dtype == JFA_DTYPE_FLOAT32;
  JFA_DISPATCH(o_part->dtype, Tp, {
    if (stats_f32)
      merge_kernel<Tp, float><<<blocks, threads, 0, ctx_stream(ctx)>>>(
          make_view(o_acc), make_view(lse_acc), make_view(od_acc), make_view(mu_acc), make_view(o_part),
          make_view(lse_part), make_view(od_part), make_view(mu_part), H, N, D, rows, jvp);
    else
      merge_kernel<Tp, Tp><<<blocks, threads, 0, ctx_stream(ctx)>>>(
          make_view(o_acc), make_view(lse_acc), make_view(od_acc), make_view(mu_acc), make_view(o_part),
          make_view(lse_part), make_view(od_part), make_view(mu_part), H, N, D, rows, jvp);
  });
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

/* ---- delta: one warp per row --------------------------------------------------- */
template <typename T>
__global__ void delta_kernel(View o, View dout, View delta, int64_t H, int64_t N, int64_t D, int64_t rows) {
  int64_t row = blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32;
  int lane = threadIdx.x & 31;
  if (row >= rows) return;
  int64_t n = row % N, h = (row / N) % H, b = row / (N * H);
  float acc = 0.f;
  for (int64_t d = lane; d < D; d += 32)
    acc += to_f(((const T *)o.p)[voff(o, b, h, n, d)]) * to_f(((const T *)dout.p)[voff(dout, b, h, n, d)]);
  for (int off = 16; off; off >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, off);
  if (lane == 0) ((float *)delta.p)[voff(delta, b, h, n, 0)] = acc;
}

/* Rows read 16 bytes at a time (8 16-bit or 4 float32 elements): the tensor-core kernels' alignment rules
   (sm80_tensor_ok, sm80_tensor_ok_f32) and D a multiple of the elements a piece. */
template <typename T> struct Vec16 {
  static constexpr int E = 16 / (int)sizeof(T);
};
static bool vec16_ok(const jfa_tensor_t *t) {
  if (t->dtype == JFA_DTYPE_FLOAT32) return sm80_tensor_ok_f32(t) && t->shape[3] % 4 == 0;
  return sm80_tensor_ok(t) && t->shape[3] % 8 == 0;
}

/* The E elements of a 16-byte piece, as floats, and back. */
template <typename T> __device__ __forceinline__ void load16(const T *p, float *x) {
  const uint4 u = *(const uint4 *)p;
  const T *h = reinterpret_cast<const T *>(&u);
#pragma unroll
  for (int j = 0; j < Vec16<T>::E; ++j) x[j] = to_f(h[j]);
}
template <typename T> __device__ __forceinline__ void store16(T *p, const float *x) {
  uint4 u;
  T *h = reinterpret_cast<T *>(&u);
#pragma unroll
  for (int j = 0; j < Vec16<T>::E; ++j) h[j] = from_f<T>(x[j]);
  *(uint4 *)p = u;
}

/* The (a, b, c) of row r of an (n0, n1, n2, D) shape, in 32-bit arithmetic where the rows fit (U32): the 64-bit
   divisions are subroutines of ~70 instructions, which a per-element split made the float32 scale-add's cost. */
template <bool U32>
__device__ __forceinline__ void row_abc(int64_t r, const Shape4 &s, int64_t *a, int64_t *b, int64_t *c) {
  if (U32) {
    const uint32_t x = (uint32_t)r, n1 = (uint32_t)s.n1, n2 = (uint32_t)s.n2, ab = x / n2, aa = ab / n1;
    *c = x - ab * n2;
    *b = ab - aa * n1;
    *a = aa;
  } else {
    const int64_t ab = r / s.n2;
    *c = r - ab * s.n2;
    *a = ab / s.n1;
    *b = ab - *a * s.n1;
  }
}

/* Lanes a row for rows of D elements read E at a time: the power of two that covers D / E pieces (at most 32). */
static int row_lanes(int64_t D, int E) {
  int lanes = 1;
  while (lanes < 32 && lanes * E < D) lanes *= 2;
  return lanes;
}

/* delta for vec16_ok rows: `lanes` lanes per row (a power of two, 32 / lanes rows per warp), each
   summing 16-byte pieces, then a shuffle sum within the row's lanes. */
template <typename T, bool U32>
__global__ void delta_vec_kernel(View o, View dout, View delta, Shape4 s, int64_t rows, int lanes) {
  constexpr int E = Vec16<T>::E;
  const int lane = threadIdx.x & 31, sub = lane % lanes;
  const int64_t row = (blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32) * (32 / lanes) + lane / lanes;
  float acc = 0.f;
  int64_t a = 0, b = 0, c = 0;
  if (row < rows) {
    row_abc<U32>(row, s, &a, &b, &c);
    const T *po = (const T *)o.p + a * o.sb + b * o.sh + c * o.ss;
    const T *pg = (const T *)dout.p + a * dout.sb + b * dout.sh + c * dout.ss;
    for (int64_t d = E * sub; d < s.n3; d += E * lanes) {
      float x[E], y[E];
      load16(po + d, x);
      load16(pg + d, y);
#pragma unroll
      for (int j = 0; j < E; ++j) acc += x[j] * y[j];
    }
  }
  for (int off = lanes / 2; off; off >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, off);
  if (row < rows && sub == 0) ((float *)delta.p)[voff(delta, a, b, c, 0)] = acc;
}

/* Tuning builds: JFA_TUNE_EW_OLD=1 runs the float32 delta and scale-add element by element (before the fifteenth
   session), for A / B runs. */
static bool ew_old_f32(const jfa_tensor_t *t) {
#ifdef JFA_TUNING
  return t->dtype == JFA_DTYPE_FLOAT32 && tune_variant("JFA_TUNE_EW_OLD") == 1;
#else
  (void)t;
  return false;
#endif
}

template <typename T>
static jfa_status_t launch_delta_vec(cudaStream_t st, const jfa_problem_t *p, const jfa_tensor_t *o,
                                     const jfa_tensor_t *dout, View delta, int64_t rows) {
  const int lanes = row_lanes(p->D, Vec16<T>::E);
  const int64_t rows_per_block = 8 * (32 / lanes);
  unsigned grid = 0;
  JFA_CHECK(grid_1d((rows + rows_per_block - 1) / rows_per_block, "delta", &grid));
  const Shape4 s = shape_of(o);
  if (rows < ((int64_t)1 << 32))
    delta_vec_kernel<T, true><<<grid, 256, 0, st>>>(make_view(o), make_view(dout), delta, s, rows, lanes);
  else
    delta_vec_kernel<T, false><<<grid, 256, 0, st>>>(make_view(o), make_view(dout), delta, s, rows, lanes);
  return JFA_SUCCESS;
}

jfa_status_t launch_delta(cudaStream_t st, const jfa_problem_t *p, const jfa_tensor_t *o, const jfa_tensor_t *dout,
                          View delta) {
  int64_t rows = p->B * p->Hq * p->Nq;
  if (rows == 0) return JFA_SUCCESS;
  if (o->dtype == JFA_DTYPE_FLOAT64) JFA_FAIL(JFA_ERROR_UNSUPPORTED, "float64 tensors are not supported on CUDA");
  if (o->dtype == dout->dtype && vec16_ok(o) && vec16_ok(dout) && !ew_old_f32(o)) {
    if (o->dtype == JFA_DTYPE_BFLOAT16) JFA_CHECK(launch_delta_vec<__nv_bfloat16>(st, p, o, dout, delta, rows));
    else if (o->dtype == JFA_DTYPE_FLOAT16) JFA_CHECK(launch_delta_vec<__half>(st, p, o, dout, delta, rows));
    else JFA_CHECK(launch_delta_vec<float>(st, p, o, dout, delta, rows));
    JFA_LAUNCH_CHECK();
    return JFA_SUCCESS;
  }
  unsigned grid = 0;
  JFA_CHECK(grid_1d((rows + 7) / 8, "delta", &grid));
  JFA_DISPATCH(o->dtype, T,
               (delta_kernel<T><<<grid, 256, 0, st>>>(make_view(o), make_view(dout), delta,
                                                                          p->Hq, p->Nq, p->D, rows)));
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

extern "C" jfa_status_t jfa_cuda_attention_delta(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *o,
                                                 const jfa_tensor_t *dout, const jfa_tensor_t *delta) {
  JFA_DEVICE_GUARD(g, ctx);
  if (delta->dtype != JFA_DTYPE_FLOAT32) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "delta must be float32 on CUDA");
  JFA_CHECK(launch_delta(ctx_stream(ctx), p, o, dout, make_view(delta)));
  return JFA_SUCCESS;
}

/* ---- dst = scale * ws (+ dst) ---------------------------------------------------- */
template <typename T>
__global__ void scale_add_kernel(const float *ws, int64_t Dws, View dst, Shape4 s, int64_t n, float scale,
                                 int accumulate) {
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < n; i += (int64_t)gridDim.x * blockDim.x) {
    int64_t a, b, c, d;
    unflatten(i, s, &a, &b, &c, &d);
    float x = scale * ws[((a * s.n1 + b) * s.n2 + c) * Dws + d];
    T *pd = (T *)dst.p + voff(dst, a, b, c, d);
    if (accumulate) x += to_f(*pd);
    *pd = from_f<T>(x);
  }
}

/* scale_add for a vec16_ok dst (and a 16-byte aligned workspace, Dws a multiple of 4): `lanes` lanes a row (as
   delta_vec_kernel), E elements a thread and step, the row's split once a row. */
template <typename T, bool U32>
__global__ void scale_add_vec_kernel(const float *ws, int64_t Dws, View dst, Shape4 s, int64_t rows, int lanes,
                                     float scale, int accumulate) {
  constexpr int E = Vec16<T>::E;
  const int lane = threadIdx.x & 31, sub = lane % lanes;
  const int64_t rpb = (int64_t)(blockDim.x / 32) * (32 / lanes);
  for (int64_t row = blockIdx.x * rpb + (threadIdx.x / 32) * (32 / lanes) + lane / lanes; row < rows;
       row += (int64_t)gridDim.x * rpb) {
    int64_t a, b, c;
    row_abc<U32>(row, s, &a, &b, &c);
    const float *w = ws + row * Dws;
    T *pd = (T *)dst.p + a * dst.sb + b * dst.sh + c * dst.ss;
    for (int64_t d = E * sub; d < s.n3; d += E * lanes) {
      float x[E], old[E];
#pragma unroll
      for (int j = 0; j < E; j += 4) {
        const float4 v = *(const float4 *)(w + d + j);
        x[j] = v.x, x[j + 1] = v.y, x[j + 2] = v.z, x[j + 3] = v.w;
      }
      if (accumulate) load16(pd + d, old);
#pragma unroll
      for (int j = 0; j < E; ++j) x[j] = scale * x[j] + (accumulate ? old[j] : 0.f);
      store16(pd + d, x);
    }
  }
}

template <typename T>
static void launch_scale_add_vec(cudaStream_t st, const float *ws, int64_t Dws, const jfa_tensor_t *dst, float scale,
                                 int accumulate) {
  const Shape4 s = shape_of(dst);
  const int64_t rows = s.n0 * s.n1 * s.n2;
  const int lanes = row_lanes(s.n3, Vec16<T>::E);
  const int64_t rows_per_block = 8 * (32 / lanes);
  const int64_t blocks = (rows + rows_per_block - 1) / rows_per_block;
  const unsigned grid = (unsigned)(blocks < 65535 * 8 ? blocks : 65535 * 8); /* grid-stride beyond */
  if (rows < ((int64_t)1 << 32))
    scale_add_vec_kernel<T, true><<<grid, 256, 0, st>>>(ws, Dws, make_view(dst), s, rows, lanes, scale, accumulate);
  else
    scale_add_vec_kernel<T, false><<<grid, 256, 0, st>>>(ws, Dws, make_view(dst), s, rows, lanes, scale, accumulate);
}

jfa_status_t launch_scale_add(cudaStream_t st, const float *ws, int64_t Dws, const jfa_tensor_t *dst, float scale,
                              int accumulate) {
  int64_t n = jfa_tensor_numel(dst);
  if (n == 0) return JFA_SUCCESS;
  Shape4 s = shape_of(dst);
  if (vec16_ok(dst) && Dws % 4 == 0 && ((uintptr_t)ws & 15) == 0 && !ew_old_f32(dst)) {
    if (dst->dtype == JFA_DTYPE_BFLOAT16) launch_scale_add_vec<__nv_bfloat16>(st, ws, Dws, dst, scale, accumulate);
    else if (dst->dtype == JFA_DTYPE_FLOAT16) launch_scale_add_vec<__half>(st, ws, Dws, dst, scale, accumulate);
    else launch_scale_add_vec<float>(st, ws, Dws, dst, scale, accumulate);
    JFA_LAUNCH_CHECK();
    return JFA_SUCCESS;
  }
  JFA_DISPATCH(dst->dtype, T,
               (scale_add_kernel<T><<<grid_for(n, 256), 256, 0, st>>>(ws, Dws, make_view(dst), s, n, scale,
                                                                      accumulate)));
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}
