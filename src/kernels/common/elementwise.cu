/*
 * elementwise.cu - the simple kernels of jfa's CUDA backend: convert (any dtype to
 * any dtype, any strides), fill, the log-sum-exp merge of partial results, the
 * backward's delta = rowsum(dout * o), and scale-and-add of fp32 workspaces (delta and
 * scale-and-add read 16-bit rows 16 bytes at a time where the layout allows: vec8_ok).
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
  DeviceGuard g(ctx->device_index);
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
  DeviceGuard g(ctx->device_index);
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
      *pod = (wa != 0.f ? wa * (oda + (ma - mu) * oa) : 0.f) + (wp != 0.f ? wp * (odp + (mp - mu) * op) : 0.f);
    }
    *po = (wa != 0.f ? wa * oa : 0.f) + (wp != 0.f ? wp * op : 0.f);
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
  DeviceGuard g(ctx->device_index);
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
  int64_t blocks = (rows + 7) / 8;
  const bool stats_f32 = lse_part->dtype == JFA_DTYPE_FLOAT32;
  JFA_DISPATCH(o_part->dtype, Tp, {
    if (stats_f32)
      merge_kernel<Tp, float><<<(unsigned)blocks, threads, 0, ctx_stream(ctx)>>>(
          make_view(o_acc), make_view(lse_acc), make_view(od_acc), make_view(mu_acc), make_view(o_part),
          make_view(lse_part), make_view(od_part), make_view(mu_part), H, N, D, rows, jvp);
    else
      merge_kernel<Tp, Tp><<<(unsigned)blocks, threads, 0, ctx_stream(ctx)>>>(
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

/* 16-bit rows read 8 elements (16 bytes) at a time: the tensor-core kernels' alignment rule
   (sm80_tensor_ok) and D a multiple of 8. */
static bool vec8_ok(const jfa_tensor_t *t) { return sm80_tensor_ok(t) && t->shape[3] % 8 == 0; }

template <typename T> __device__ __forceinline__ void load8(const T *p, float *x) {
  const uint4 u = *(const uint4 *)p;
  const T *h = reinterpret_cast<const T *>(&u);
#pragma unroll
  for (int j = 0; j < 8; ++j) x[j] = to_f(h[j]);
}

/* delta for vec8_ok rows: `lanes` lanes per row (a power of two, 32 / lanes rows per warp), each
   summing 16-byte chunks, then a shuffle sum within the row's lanes. */
template <typename T>
__global__ void delta_vec8_kernel(View o, View dout, View delta, int64_t H, int64_t N, int64_t D, int64_t rows,
                                  int lanes) {
  const int lane = threadIdx.x & 31, sub = lane % lanes;
  const int64_t row = (blockIdx.x * (int64_t)(blockDim.x / 32) + threadIdx.x / 32) * (32 / lanes) + lane / lanes;
  float acc = 0.f;
  if (row < rows) {
    const int64_t n = row % N, h = (row / N) % H, b = row / (N * H);
    const T *po = (const T *)o.p + b * o.sb + h * o.sh + n * o.ss;
    const T *pg = (const T *)dout.p + b * dout.sb + h * dout.sh + n * dout.ss;
    for (int64_t d = 8 * sub; d < D; d += 8 * lanes) {
      float x[8], y[8];
      load8(po + d, x);
      load8(pg + d, y);
#pragma unroll
      for (int j = 0; j < 8; ++j) acc += x[j] * y[j];
    }
  }
  for (int off = lanes / 2; off; off >>= 1) acc += __shfl_xor_sync(0xffffffffu, acc, off);
  if (row < rows && sub == 0) ((float *)delta.p)[voff(delta, row / (N * H), (row / N) % H, row % N, 0)] = acc;
}

jfa_status_t launch_delta(cudaStream_t st, const jfa_problem_t *p, const jfa_tensor_t *o, const jfa_tensor_t *dout,
                          View delta) {
  int64_t rows = p->B * p->Hq * p->Nq;
  if (rows == 0) return JFA_SUCCESS;
  if (o->dtype == JFA_DTYPE_FLOAT64) JFA_FAIL(JFA_ERROR_UNSUPPORTED, "float64 tensors are not supported on CUDA");
  if (vec8_ok(o) && vec8_ok(dout) && p->D <= 256) {
    int lanes = 1; /* lanes per row: the power of two that covers D / 8 chunks (at most 32) */
    while (lanes < p->D / 8) lanes *= 2;
    const int64_t rows_per_block = 8 * (32 / lanes);
    if (o->dtype == JFA_DTYPE_BFLOAT16)
      delta_vec8_kernel<__nv_bfloat16><<<(unsigned)((rows + rows_per_block - 1) / rows_per_block), 256, 0, st>>>(
          make_view(o), make_view(dout), delta, p->Hq, p->Nq, p->D, rows, lanes);
    else
      delta_vec8_kernel<__half><<<(unsigned)((rows + rows_per_block - 1) / rows_per_block), 256, 0, st>>>(
          make_view(o), make_view(dout), delta, p->Hq, p->Nq, p->D, rows, lanes);
    JFA_LAUNCH_CHECK();
    return JFA_SUCCESS;
  }
  JFA_DISPATCH(o->dtype, T,
               (delta_kernel<T><<<(unsigned)((rows + 7) / 8), 256, 0, st>>>(make_view(o), make_view(dout), delta,
                                                                          p->Hq, p->Nq, p->D, rows)));
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}

extern "C" jfa_status_t jfa_cuda_attention_delta(jfa_context_t *ctx, const jfa_problem_t *p, const jfa_tensor_t *o,
                                                 const jfa_tensor_t *dout, const jfa_tensor_t *delta) {
  DeviceGuard g(ctx->device_index);
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

/* scale_add for a vec8_ok dst (and a 16-byte aligned workspace, Dws a multiple of 4): 8 elements per
   thread and step, one (row, chunk) split per 8 elements instead of a 4-d one per element. */
template <typename T>
__global__ void scale_add_vec8_kernel(const float *ws, int64_t Dws, View dst, Shape4 s, int64_t chunks, float scale,
                                      int accumulate) {
  const int64_t cpr = s.n3 / 8;
  for (int64_t i = blockIdx.x * (int64_t)blockDim.x + threadIdx.x; i < chunks; i += (int64_t)gridDim.x * blockDim.x) {
    const int64_t row = i / cpr, d = (i - row * cpr) * 8;
    const int64_t c = row % s.n2, ab = row / s.n2, b = ab % s.n1, a = ab / s.n1;
    const float4 x0 = *(const float4 *)(ws + row * Dws + d), x1 = *(const float4 *)(ws + row * Dws + d + 4);
    float x[8] = {x0.x, x0.y, x0.z, x0.w, x1.x, x1.y, x1.z, x1.w};
    T *pd = (T *)dst.p + a * dst.sb + b * dst.sh + c * dst.ss + d;
    float old[8];
    if (accumulate) load8(pd, old);
    uint4 u;
    T *h = reinterpret_cast<T *>(&u);
#pragma unroll
    for (int j = 0; j < 8; ++j) h[j] = from_f<T>(scale * x[j] + (accumulate ? old[j] : 0.f));
    *(uint4 *)pd = u;
  }
}

jfa_status_t launch_scale_add(cudaStream_t st, const float *ws, int64_t Dws, const jfa_tensor_t *dst, float scale,
                              int accumulate) {
  int64_t n = jfa_tensor_numel(dst);
  if (n == 0) return JFA_SUCCESS;
  Shape4 s = shape_of(dst);
  if (vec8_ok(dst) && Dws % 4 == 0 && ((uintptr_t)ws & 15) == 0) {
    const int64_t chunks = n / 8;
    if (dst->dtype == JFA_DTYPE_BFLOAT16)
      scale_add_vec8_kernel<__nv_bfloat16><<<grid_for(chunks, 256), 256, 0, st>>>(ws, Dws, make_view(dst), s, chunks,
                                                                                 scale, accumulate);
    else
      scale_add_vec8_kernel<__half><<<grid_for(chunks, 256), 256, 0, st>>>(ws, Dws, make_view(dst), s, chunks, scale,
                                                                          accumulate);
    JFA_LAUNCH_CHECK();
    return JFA_SUCCESS;
  }
  JFA_DISPATCH(dst->dtype, T,
               (scale_add_kernel<T><<<grid_for(n, 256), 256, 0, st>>>(ws, Dws, make_view(dst), s, n, scale,
                                                                      accumulate)));
  JFA_LAUNCH_CHECK();
  return JFA_SUCCESS;
}
