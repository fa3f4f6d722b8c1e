/*
 * validate.c - argument validation of the public attention calls: presence,
 * shapes, dtypes, devices, strides, aliasing of outputs, and params. Every check
 * sets the last error naming the argument; nothing is ever written here.
 */
#include <math.h>
#include <string.h>

#include "core/check.h"
#include "core/overlap.h"
#include "core/params.h"
#include "core/validate.h"

#define JFA_MAX_EXTENT ((int64_t)1 << 40) /* bound on shapes and strides: keeps offsets in int64 */
#define JFA_MAX_POSITION ((int64_t)1 << 52)

typedef struct {
  const jfa_tensor_t *t;
  const char *name;
} named_t;

jfa_status_t jfa_check_tensor(const jfa_tensor_t *t, const char *name, jfa_device_t device) {
  if (!t) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: tensor is NULL", name);
  if (!t->data) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: data is NULL", name);
  if (jfa_dtype_size(t->dtype) == 0) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: unknown dtype %d", name, (int)t->dtype);
  if (t->device != JFA_DEVICE_CPU && t->device != JFA_DEVICE_CUDA)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: unknown device %d", name, (int)t->device);
  if (t->device != device)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: tensor is on %s but the context is %s", name,
             t->device == JFA_DEVICE_CPU ? "the CPU" : "CUDA", device == JFA_DEVICE_CPU ? "CPU" : "CUDA");
  /* an element read through a misaligned pointer is undefined behaviour on the CPU and a sticky CUDA error on a GPU */
  if ((uintptr_t)t->data % jfa_dtype_size(t->dtype) != 0)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: data %p is not aligned to its %s elements (%zu bytes)", name, t->data,
             jfa_dtype_name(t->dtype), jfa_dtype_size(t->dtype));
  for (int i = 0; i < 4; ++i) {
    if (t->shape[i] <= 0)
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: shape[%d] = %lld, must be positive", name, i, (long long)t->shape[i]);
    if (t->shape[i] > JFA_MAX_EXTENT)
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: shape[%d] = %lld is too large", name, i, (long long)t->shape[i]);
    if (t->stride[i] < 0)
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: stride[%d] = %lld is negative", name, i, (long long)t->stride[i]);
    if (t->stride[i] > JFA_MAX_EXTENT)
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: stride[%d] = %lld is too large", name, i, (long long)t->stride[i]);
  }
  /* element count and byte extent must fit comfortably in int64 (estimated in double) */
  double numel = 1.0, extent = 1.0;
  for (int i = 0; i < 4; ++i) {
    numel *= (double)t->shape[i];
    extent += (double)(t->shape[i] - 1) * (double)t->stride[i];
  }
  if (numel > 0x1p52)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: shape (%lld,%lld,%lld,%lld) has %.3g elements, more than jfa's limit 2^52",
             name, (long long)t->shape[0], (long long)t->shape[1], (long long)t->shape[2], (long long)t->shape[3],
             numel);
  if (extent * (double)jfa_dtype_size(t->dtype) > 0x1p60)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: the strides span %.3g elements, more than jfa's limit 2^60 bytes", name,
             extent);
  return JFA_SUCCESS;
}

/* Byte range [lo, hi) spanned by a tensor (strides are non-negative after jfa_check_tensor). */
static void byte_range(const jfa_tensor_t *t, uintptr_t *lo, uintptr_t *hi) {
  int64_t last = 0;
  for (int i = 0; i < 4; ++i) last += (t->shape[i] - 1) * t->stride[i];
  *lo = (uintptr_t)t->data;
  *hi = *lo + (uintptr_t)((last + 1) * (int64_t)jfa_dtype_size(t->dtype));
}

/* Whether the byte range [lo, hi) meets tensor b's (b absent or without data: no). */
static int range_overlaps(uintptr_t lo, uintptr_t hi, const jfa_tensor_t *b) {
  if (!b || !b->data) return 0;
  uintptr_t blo, bhi;
  byte_range(b, &blo, &bhi);
  return lo < bhi && blo < hi;
}

int jfa_tensors_overlap(const jfa_tensor_t *a, const jfa_tensor_t *b) {
  if (!a || !a->data) return 0;
  uintptr_t alo, ahi;
  byte_range(a, &alo, &ahi);
  return range_overlaps(alo, ahi, b);
}

/* Outputs must not overlap any input or each other; output strides must be distinct. */
static jfa_status_t check_aliasing(const named_t *in, int nin, const named_t *out, int nout) {
  for (int i = 0; i < nout; ++i) {
    if (!out[i].t) continue;
    JFA_CHECK(jfa_check_output_strides(out[i].t, out[i].name));
    for (int j = 0; j < nin; ++j)
      if (jfa_tensors_overlap(out[i].t, in[j].t))
        JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
                 "%s: output's byte range overlaps input %s's (the tensors of a call occupy disjoint byte ranges)",
                 out[i].name, in[j].name);
    for (int j = 0; j < i; ++j)
      if (jfa_tensors_overlap(out[i].t, out[j].t))
        JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
                 "%s: output's byte range overlaps output %s's (the tensors of a call occupy disjoint byte ranges, "
                 "so two outputs interleaved in one buffer are refused)", out[i].name, out[j].name);
  }
  return JFA_SUCCESS;
}

/* A byte range [lo, hi) the call reads while it writes its outputs (what names it) must not overlap an output. */
static jfa_status_t check_range_aliasing(uintptr_t lo, uintptr_t hi, const char *what, const named_t *out, int nout) {
  for (int i = 0; i < nout; ++i)
    if (range_overlaps(lo, hi, out[i].t)) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: overlaps output %s", what, out[i].name);
  return JFA_SUCCESS;
}

/* The arrays a call reads besides its tensors: the packed-sequence offsets (host arrays) and the caller's block map
   (params->mask_map). */
static jfa_status_t check_arrays_aliasing(const jfa_problem_t *p, const named_t *out, int nout) {
  if (p->nseq > 0) {
    const uintptr_t n = (uintptr_t)(p->nseq + 1) * sizeof(int64_t);
    JFA_CHECK(check_range_aliasing((uintptr_t)p->cu_q, (uintptr_t)p->cu_q + n, "params->cu_seqlens_q", out, nout));
    JFA_CHECK(check_range_aliasing((uintptr_t)p->cu_k, (uintptr_t)p->cu_k + n, "params->cu_seqlens_k", out, nout));
  }
  if (p->dmap)
    JFA_CHECK(check_range_aliasing((uintptr_t)p->dmap, (uintptr_t)p->dmap + (uintptr_t)p->dmap_bytes,
                                   "params->mask_map", out, nout));
  return JFA_SUCCESS;
}

static int same_shape(const jfa_tensor_t *a, const jfa_tensor_t *b) {
  return memcmp(a->shape, b->shape, sizeof a->shape) == 0;
}

static jfa_status_t expect_shape(const jfa_tensor_t *t, const char *name, const jfa_tensor_t *like,
                                 const char *like_name) {
  if (!same_shape(t, like))
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: shape (%lld,%lld,%lld,%lld) differs from %s (%lld,%lld,%lld,%lld)", name,
             (long long)t->shape[0], (long long)t->shape[1], (long long)t->shape[2], (long long)t->shape[3], like_name,
             (long long)like->shape[0], (long long)like->shape[1], (long long)like->shape[2],
             (long long)like->shape[3]);
  return JFA_SUCCESS;
}

/* A statistic (lse, mu, delta) of a tensor shaped like `like`: (B, H, N, 1). */
static jfa_status_t expect_stat_shape(const jfa_tensor_t *t, const char *name, const jfa_tensor_t *like,
                                      const char *like_name) {
  if (t->shape[0] != like->shape[0] || t->shape[1] != like->shape[1] || t->shape[2] != like->shape[2] ||
      t->shape[3] != 1)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: shape (%lld,%lld,%lld,%lld) must be (%lld,%lld,%lld,1) to match %s",
             name, (long long)t->shape[0], (long long)t->shape[1], (long long)t->shape[2], (long long)t->shape[3],
             (long long)like->shape[0], (long long)like->shape[1], (long long)like->shape[2], like_name);
  return JFA_SUCCESS;
}

static jfa_status_t expect_dtype(const jfa_tensor_t *t, const char *name, const jfa_tensor_t *like,
                                 const char *like_name) {
  if (t->dtype != like->dtype)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: dtype %s differs from %s (%s)", name, jfa_dtype_name(t->dtype), like_name,
             jfa_dtype_name(like->dtype));
  return JFA_SUCCESS;
}

/* Data tensors: float64/float32 on the CPU, float32/float16/bfloat16 on CUDA. */
static jfa_status_t expect_data_dtype_supported(const jfa_tensor_t *t, const char *name, jfa_device_t device) {
  int ok = device == JFA_DEVICE_CPU ? (t->dtype == JFA_DTYPE_FLOAT64 || t->dtype == JFA_DTYPE_FLOAT32)
                                    : (t->dtype == JFA_DTYPE_FLOAT32 || t->dtype == JFA_DTYPE_FLOAT16 ||
                                       t->dtype == JFA_DTYPE_BFLOAT16);
  if (!ok && t->dtype == JFA_DTYPE_BOOL) /* a mask's dtype only, on every backend */
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: dtype bool is a mask's (params->attn_mask), not attention data", name);
  if (!ok)
    JFA_FAIL(JFA_ERROR_UNSUPPORTED, "%s: dtype %s is not supported on %s", name, jfa_dtype_name(t->dtype),
             device == JFA_DEVICE_CPU ? "the CPU (float64, float32)" : "CUDA (float32, float16, bfloat16)");
  return JFA_SUCCESS;
}

/* Statistics and accumulators: float32, or float64 on the CPU. */
static jfa_status_t expect_stat_dtype(const jfa_tensor_t *t, const char *name, jfa_device_t device) {
  if (t->dtype == JFA_DTYPE_FLOAT32) return JFA_SUCCESS;
  if (t->dtype == JFA_DTYPE_FLOAT64 && device == JFA_DEVICE_CPU) return JFA_SUCCESS;
  JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: dtype %s must be float32%s", name, jfa_dtype_name(t->dtype),
           device == JFA_DEVICE_CPU ? " or float64" : "");
}

static jfa_status_t resolve_position(int64_t value, const char *name, int64_t *out) {
  if (value < -JFA_MAX_POSITION || value > JFA_MAX_POSITION)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "params->%s: %lld is out of range", name, (long long)value);
  *out = value;
  return JFA_SUCCESS;
}

static jfa_status_t resolve_window(int64_t value, const char *name, int64_t *out) {
  if (value < JFA_WINDOW_UNBOUNDED)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
             "params->%s: %lld is invalid (a window side is >= 0, or JFA_WINDOW_UNBOUNDED = -1)", name,
             (long long)value);
  *out = value > JFA_WINDOW_MAX ? JFA_WINDOW_MAX : value; /* larger windows are equivalent */
  return JFA_SUCCESS;
}

jfa_status_t jfa_check_cu_seqlens(const int64_t *cu, int64_t nseq, int64_t total, const char *name,
                                  const char *extent) {
  if (cu[0] != 0) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s[0] = %lld, must be 0", name, (long long)cu[0]);
  for (int64_t s = 1; s <= nseq; ++s)
    if (cu[s] < cu[s - 1])
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s[%lld] = %lld < %s[%lld] = %lld (offsets must not decrease)", name,
               (long long)s, (long long)cu[s], name, (long long)(s - 1), (long long)cu[s - 1]);
  if (cu[nseq] != total)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s[%lld] = %lld, must equal %s = %lld", name, (long long)nseq,
             (long long)cu[nseq], extent, (long long)total);
  return JFA_SUCCESS;
}

/* Packed sequences: both offset arrays or neither, batch 1, no explicit positions; their values checked unless they
   are device arrays (JFA_PARAMS_SEQLENS_DEVICE on CUDA: where they live is the CUDA backend's check). */
static jfa_status_t resolve_packed(const jfa_attention_params_t *params, jfa_device_t device, jfa_problem_t *p) {
  const int64_t *cq = params->cu_seqlens_q, *ck = params->cu_seqlens_k;
  const int on_device = (params->flags & JFA_PARAMS_SEQLENS_DEVICE) && device == JFA_DEVICE_CUDA;
  if (!cq && !ck) {
    if (params->num_seqs != 0)
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "params->num_seqs: %lld without cu_seqlens_q and cu_seqlens_k (must be 0)",
               (long long)params->num_seqs);
    if (params->flags & JFA_PARAMS_SEQLENS_DEVICE)
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
               "params->flags: JFA_PARAMS_SEQLENS_DEVICE without cu_seqlens_q and cu_seqlens_k (no offsets to read)");
    return JFA_SUCCESS;
  }
  if (!cq) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "params->cu_seqlens_q: NULL while cu_seqlens_k is set (give both)");
  if (!ck) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "params->cu_seqlens_k: NULL while cu_seqlens_q is set (give both)");
  if (params->num_seqs < 1 || params->num_seqs > JFA_MAX_EXTENT)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "params->num_seqs: %lld, must be in [1, %lld] with packed sequences",
             (long long)params->num_seqs, (long long)JFA_MAX_EXTENT);
  if (p->B != 1)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "params->cu_seqlens_q: packed sequences need batch 1 (q has batch %lld)",
             (long long)p->B);
  if (params->mask == JFA_MASK_POSITIONS || params->mask == JFA_MASK_CAUSAL_POSITIONS)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
             "params->mask: explicit positions (mode %d) cannot be combined with packed sequences", (int)params->mask);
  if (on_device) {
    if ((uintptr_t)cq % sizeof(int64_t) != 0)
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "params->cu_seqlens_q: %p is not 8-byte aligned (int64 offsets)",
               (const void *)cq);
    if ((uintptr_t)ck % sizeof(int64_t) != 0)
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "params->cu_seqlens_k: %p is not 8-byte aligned (int64 offsets)",
               (const void *)ck);
  } else {
    JFA_CHECK(jfa_check_cu_seqlens(cq, params->num_seqs, p->Nq, "params->cu_seqlens_q", "Nq"));
    JFA_CHECK(jfa_check_cu_seqlens(ck, params->num_seqs, p->Nk, "params->cu_seqlens_k", "Nk"));
  }
  p->nseq = params->num_seqs;
  p->cu_q = cq;
  p->cu_k = ck;
  p->seq_dev = on_device;
  p->seq_bottom_right = params->mask == JFA_MASK_CAUSAL_BOTTOM_RIGHT || params->mask == JFA_MASK_BOTTOM_RIGHT;
  p->q_pos0 = p->k_pos0 = 0; /* row indices into the offsets */
  return JFA_SUCCESS;
}

/* Dense mask: (B or 1, Hq or 1, Nq, Nk), bool, float32 or q's dtype (float64 on the CPU). */
static jfa_status_t resolve_dense(const jfa_tensor_t *m, jfa_dtype_t qdtype, jfa_device_t device,
                                  jfa_problem_t *p) {
  const char *name = "params->attn_mask";
  JFA_CHECK(jfa_check_tensor(m, name, device));
  if ((m->shape[0] != 1 && m->shape[0] != p->B) || (m->shape[1] != 1 && m->shape[1] != p->Hq) ||
      m->shape[2] != p->Nq || m->shape[3] != p->Nk)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: shape (%lld,%lld,%lld,%lld) must be (%lld%s, %lld%s, %lld, %lld)", name,
             (long long)m->shape[0], (long long)m->shape[1], (long long)m->shape[2], (long long)m->shape[3],
             (long long)p->B, p->B != 1 ? " or 1" : "", (long long)p->Hq, p->Hq != 1 ? " or 1" : "", (long long)p->Nq,
             (long long)p->Nk);
  int ok = m->dtype == JFA_DTYPE_BOOL || m->dtype == JFA_DTYPE_FLOAT32 || m->dtype == qdtype ||
           (m->dtype == JFA_DTYPE_FLOAT64 && device == JFA_DEVICE_CPU);
  if (!ok)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: dtype %s must be bool, float32 or q's dtype (%s)%s", name,
             jfa_dtype_name(m->dtype), jfa_dtype_name(qdtype), device == JFA_DEVICE_CPU ? " or float64" : "");
  p->dmask = m;
  return JFA_SUCCESS;
}

/* The caller's block map of attn_mask (jfa_attention_mask_map_build): only with attn_mask, of exactly its size (0 on
   the CPU, where no map is read: p->dmap stays NULL), 256-byte aligned. Where it lives is the CUDA backend's check
   (cuda_call_checks). */
static jfa_status_t resolve_map(const jfa_attention_params_t *params, jfa_device_t device, jfa_problem_t *p) {
  p->dmap = NULL;
  p->dmap_bytes = 0;
  if (!params->mask_map) {
    if (params->mask_map_bytes != 0)
      JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "params->mask_map_bytes: %llu without mask_map (must be 0)",
               (unsigned long long)params->mask_map_bytes);
    return JFA_SUCCESS;
  }
  if (!p->dmask)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "params->mask_map: set without attn_mask (a block map is a dense mask's)");
  uint64_t want = 0;
  if (device == JFA_DEVICE_CUDA) JFA_CHECK(jfa_cuda_mask_map_bytes(p, &want));
  if (params->mask_map_bytes != want)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
             "params->mask_map_bytes: %llu, but attn_mask's block map takes %llu bytes here "
             "(jfa_attention_mask_map_bytes)", (unsigned long long)params->mask_map_bytes, (unsigned long long)want);
  if ((uintptr_t)params->mask_map % 256 != 0)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "params->mask_map: %p is not 256-byte aligned", params->mask_map);
  if (want > 0) p->dmap = params->mask_map, p->dmap_bytes = want;
  return JFA_SUCCESS;
}

jfa_status_t jfa_resolve_params(const jfa_attention_params_t *caller_params, jfa_dtype_t qdtype,
                                jfa_device_t device, jfa_problem_t *p) {
  jfa_attention_params_t d; /* the caller's layout read into the current one (params.c) */
  JFA_CHECK(jfa_params_read(caller_params, &d));
  const jfa_attention_params_t *params = &d;
  if (params->flags & ~(uint32_t)JFA_PARAMS_KNOWN_FLAGS)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "params->flags: unknown bits 0x%x",
             (unsigned)(params->flags & ~(uint32_t)JFA_PARAMS_KNOWN_FLAGS));
  if (!isfinite(params->scale)) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "params->scale: %g is not finite", params->scale);
  if (fabs(params->scale) > JFA_SCALE_MAX)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT,
             "params->scale: |%.17g| exceeds JFA_SCALE_MAX = 2^16 (the kernels' float32 running max would not resolve the scores)", params->scale);
  p->scale = jfa_params_scale(params->scale, params->flags, p->D);
  p->causal = 0;
  p->q_pos0 = 0;
  p->k_pos0 = 0;
  p->windowed = 0;
  p->win_left = p->win_right = JFA_WINDOW_UNBOUNDED;
  p->dmask = NULL;
  p->nseq = 0;
  p->cu_q = p->cu_k = NULL;
  p->seq_dev = 0;
  p->seq_bottom_right = 0;
  p->partial = 0; /* whole rows: the ring's calls set it */
  switch (params->mask) {
    case JFA_MASK_NONE: break;
    case JFA_MASK_CAUSAL_TOP_LEFT: p->causal = 1; break;
    case JFA_MASK_CAUSAL_BOTTOM_RIGHT:
      p->causal = 1;
      p->q_pos0 = p->Nk - p->Nq;
      break;
    case JFA_MASK_BOTTOM_RIGHT: p->q_pos0 = p->Nk - p->Nq; break; /* places a window; no mask without one */
    case JFA_MASK_CAUSAL_POSITIONS:
    case JFA_MASK_POSITIONS:
      JFA_CHECK(resolve_position(params->q_position, "q_position", &p->q_pos0));
      JFA_CHECK(resolve_position(params->k_position, "k_position", &p->k_pos0));
      p->causal = params->mask == JFA_MASK_CAUSAL_POSITIONS;
      break;
    default: JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "params->mask: unknown mask mode %d", (int)params->mask);
  }
  JFA_CHECK(resolve_window(params->window_left, "window_left", &p->win_left));
  JFA_CHECK(resolve_window(params->window_right, "window_right", &p->win_right));
  p->windowed = p->win_left >= 0 || p->win_right >= 0;
  JFA_CHECK(resolve_packed(params, device, p));
  if (params->attn_mask) JFA_CHECK(resolve_dense(params->attn_mask, qdtype, device, p));
  JFA_CHECK(resolve_map(params, device, p));
  return JFA_SUCCESS;
}

/* q, k, v geometry: k and v equal shapes, batch and head dims agree, Hq % Hkv == 0. */
static jfa_status_t check_qkv(const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v, jfa_problem_t *p) {
  JFA_CHECK(expect_shape(v, "v", k, "k"));
  if (q->shape[0] != k->shape[0])
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "k: batch %lld differs from q's %lld", (long long)k->shape[0],
             (long long)q->shape[0]);
  if (q->shape[3] != k->shape[3])
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "k: head dim %lld differs from q's %lld", (long long)k->shape[3],
             (long long)q->shape[3]);
  if (q->shape[1] % k->shape[1] != 0)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "k: %lld kv heads do not divide q's %lld heads", (long long)k->shape[1],
             (long long)q->shape[1]);
  p->B = q->shape[0];
  p->Hq = q->shape[1];
  p->Hkv = k->shape[1];
  p->Nq = q->shape[2];
  p->Nk = k->shape[2];
  p->D = q->shape[3];
  return JFA_SUCCESS;
}

jfa_status_t jfa_validate_forward(const jfa_context_t *ctx, const jfa_attention_params_t *params,
                                  const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
                                  const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd,
                                  const jfa_tensor_t *o, const jfa_tensor_t *lse, const jfa_tensor_t *od,
                                  const jfa_tensor_t *mu, int jvp, jfa_problem_t *p) {
  if (!ctx) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  jfa_device_t dev = ctx->device;
  named_t data_in[] = {{q, "q"}, {k, "k"}, {v, "v"}, {qd, "qd"}, {kd, "kd"}, {vd, "vd"}};
  int nin = jvp ? 6 : 3;
  for (int i = 0; i < nin; ++i) JFA_CHECK(jfa_check_tensor(data_in[i].t, data_in[i].name, dev));
  JFA_CHECK(jfa_check_tensor(o, "o", dev));
  if (jvp) JFA_CHECK(jfa_check_tensor(od, "od", dev));
  if (lse) JFA_CHECK(jfa_check_tensor(lse, "lse", dev));
  if (jvp && mu) JFA_CHECK(jfa_check_tensor(mu, "mu", dev));

  JFA_CHECK(check_qkv(q, k, v, p));
  JFA_CHECK(expect_shape(o, "o", q, "q"));
  if (jvp) {
    JFA_CHECK(expect_shape(qd, "qd", q, "q"));
    JFA_CHECK(expect_shape(kd, "kd", k, "k"));
    JFA_CHECK(expect_shape(vd, "vd", v, "v"));
    JFA_CHECK(expect_shape(od, "od", o, "o"));
  }
  if (lse) JFA_CHECK(expect_stat_shape(lse, "lse", q, "q"));
  if (jvp && mu) JFA_CHECK(expect_stat_shape(mu, "mu", q, "q"));

  for (int i = 1; i < nin; ++i) JFA_CHECK(expect_dtype(data_in[i].t, data_in[i].name, q, "q"));
  JFA_CHECK(expect_dtype(o, "o", q, "q"));
  if (jvp) JFA_CHECK(expect_dtype(od, "od", q, "q"));
  if (lse) JFA_CHECK(expect_stat_dtype(lse, "lse", dev));
  if (jvp && mu) JFA_CHECK(expect_stat_dtype(mu, "mu", dev));
  JFA_CHECK(expect_data_dtype_supported(q, "q", dev));

  JFA_CHECK(jfa_resolve_params(params, q->dtype, dev, p));

  named_t outs[] = {{o, "o"}, {lse, "lse"}, {jvp ? od : NULL, "od"}, {jvp ? mu : NULL, "mu"}};
  JFA_CHECK(check_aliasing(data_in, nin, outs, 4));
  named_t mask_in = {p->dmask, "params->attn_mask"};
  JFA_CHECK(check_aliasing(&mask_in, 1, outs, 4));
  JFA_CHECK(check_arrays_aliasing(p, outs, 4));
  return JFA_SUCCESS;
}

/* The shape each tensor of a backward call takes: q's, k's, v's, or a statistic's (B, Hq, Nq, 1). */
typedef enum { LIKE_Q, LIKE_K, LIKE_V, LIKE_STAT } like_t;

/*
 * The checks of the backward and the backward-JVP, from tables: ins[0..2] are q, k, v; every
 * other input and output takes the shape of ins[like[i]] (LIKE_STAT: a float statistic of q's
 * rows) and, but the statistics, q's dtype; outputs from index first_optional may be NULL.
 * In order: every tensor, the q/k/v geometry, shapes, dtypes, params, aliasing.
 */
static jfa_status_t validate_backward_tables(const jfa_context_t *ctx, const jfa_attention_params_t *params,
                                             const named_t *ins, const like_t *in_like, int nin,
                                             const named_t *outs, int nout, int first_optional, jfa_problem_t *p) {
  if (!ctx) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  const jfa_device_t dev = ctx->device;
  const jfa_tensor_t *q = ins[0].t, *k = ins[1].t, *v = ins[2].t;
  for (int i = 0; i < nin; ++i) JFA_CHECK(jfa_check_tensor(ins[i].t, ins[i].name, dev));
  for (int i = 0; i < nout; ++i)
    if (i < first_optional || outs[i].t) JFA_CHECK(jfa_check_tensor(outs[i].t, outs[i].name, dev));

  JFA_CHECK(check_qkv(q, k, v, p));
  for (int i = 3; i < nin; ++i) {
    if (in_like[i] == LIKE_STAT) JFA_CHECK(expect_stat_shape(ins[i].t, ins[i].name, q, "q"));
    else JFA_CHECK(expect_shape(ins[i].t, ins[i].name, ins[in_like[i]].t, ins[in_like[i]].name));
  }
  for (int i = 0; i < nout; ++i) /* outputs are gradients of q, k, v in turn */
    if (outs[i].t) JFA_CHECK(expect_shape(outs[i].t, outs[i].name, ins[i % 3].t, ins[i % 3].name));

  for (int i = 1; i < nin; ++i)
    if (in_like[i] != LIKE_STAT) JFA_CHECK(expect_dtype(ins[i].t, ins[i].name, q, "q"));
  for (int i = 0; i < nout; ++i)
    if (outs[i].t) JFA_CHECK(expect_dtype(outs[i].t, outs[i].name, q, "q"));
  for (int i = 0; i < nin; ++i)
    if (in_like[i] == LIKE_STAT) JFA_CHECK(expect_stat_dtype(ins[i].t, ins[i].name, dev));
  JFA_CHECK(expect_data_dtype_supported(q, "q", dev));

  JFA_CHECK(jfa_resolve_params(params, q->dtype, dev, p));
  JFA_CHECK(check_aliasing(ins, nin, outs, nout));
  named_t mask_in = {p->dmask, "params->attn_mask"};
  JFA_CHECK(check_aliasing(&mask_in, 1, outs, nout));
  JFA_CHECK(check_arrays_aliasing(p, outs, nout));
  return JFA_SUCCESS;
}

jfa_status_t jfa_validate_backward(const jfa_context_t *ctx, const jfa_attention_params_t *params,
                                   const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
                                   const jfa_tensor_t *o, const jfa_tensor_t *lse, const jfa_tensor_t *dout,
                                   const jfa_tensor_t *dq, const jfa_tensor_t *dk, const jfa_tensor_t *dv,
                                   jfa_problem_t *p) {
  const named_t ins[] = {{q, "q"}, {k, "k"}, {v, "v"}, {o, "o"}, {dout, "dout"}, {lse, "lse"}};
  static const like_t like[] = {LIKE_Q, LIKE_K, LIKE_V, LIKE_Q, LIKE_Q, LIKE_STAT};
  const named_t outs[] = {{dq, "dq"}, {dk, "dk"}, {dv, "dv"}};
  return validate_backward_tables(ctx, params, ins, like, 6, outs, 3, 3, p);
}

jfa_status_t jfa_validate_backward_jvp(const jfa_context_t *ctx, const jfa_attention_params_t *params,
                                       const jfa_tensor_t *q, const jfa_tensor_t *k, const jfa_tensor_t *v,
                                       const jfa_tensor_t *qd, const jfa_tensor_t *kd, const jfa_tensor_t *vd,
                                       const jfa_tensor_t *o, const jfa_tensor_t *lse, const jfa_tensor_t *od,
                                       const jfa_tensor_t *mu, const jfa_tensor_t *dout,
                                       const jfa_tensor_t *doutd, const jfa_tensor_t *dqd,
                                       const jfa_tensor_t *dkd, const jfa_tensor_t *dvd, const jfa_tensor_t *dq,
                                       const jfa_tensor_t *dk, const jfa_tensor_t *dv, jfa_problem_t *p) {
  const named_t ins[] = {{q, "q"}, {k, "k"},   {v, "v"},       {qd, "qd"},       {kd, "kd"},   {vd, "vd"},
                         {o, "o"}, {od, "od"}, {dout, "dout"}, {doutd, "doutd"}, {lse, "lse"}, {mu, "mu"}};
  static const like_t like[] = {LIKE_Q, LIKE_K, LIKE_V, LIKE_Q, LIKE_K,    LIKE_V,
                                LIKE_Q, LIKE_Q, LIKE_Q, LIKE_Q, LIKE_STAT, LIKE_STAT};
  const named_t outs[] = {{dqd, "dqd"}, {dkd, "dkd"}, {dvd, "dvd"}, {dq, "dq"}, {dk, "dk"}, {dv, "dv"}};
  return validate_backward_tables(ctx, params, ins, like, 12, outs, 6, 3, p); /* dq, dk, dv optional */
}

jfa_status_t jfa_validate_merge(const jfa_context_t *ctx, const jfa_tensor_t *o_acc,
                                const jfa_tensor_t *lse_acc, const jfa_tensor_t *od_acc,
                                const jfa_tensor_t *mu_acc, const jfa_tensor_t *o_part,
                                const jfa_tensor_t *lse_part, const jfa_tensor_t *od_part,
                                const jfa_tensor_t *mu_part) {
  if (!ctx) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "ctx is NULL");
  jfa_device_t dev = ctx->device;
  int njvp = (od_acc != NULL) + (mu_acc != NULL) + (od_part != NULL) + (mu_part != NULL);
  if (njvp != 0 && njvp != 4)
    JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: od_acc, mu_acc, od_part and mu_part must all be given or all be NULL",
             !od_acc ? "od_acc" : !mu_acc ? "mu_acc" : !od_part ? "od_part" : "mu_part");
  int jvp = njvp == 4;
  named_t accs[] = {{o_acc, "o_acc"}, {lse_acc, "lse_acc"}, {od_acc, "od_acc"}, {mu_acc, "mu_acc"}};
  named_t parts[] = {{o_part, "o_part"}, {lse_part, "lse_part"}, {od_part, "od_part"}, {mu_part, "mu_part"}};
  int n = jvp ? 4 : 2;
  for (int i = 0; i < n; ++i) JFA_CHECK(jfa_check_tensor(accs[i].t, accs[i].name, dev));
  for (int i = 0; i < n; ++i) JFA_CHECK(jfa_check_tensor(parts[i].t, parts[i].name, dev));

  JFA_CHECK(expect_shape(o_part, "o_part", o_acc, "o_acc"));
  JFA_CHECK(expect_stat_shape(lse_acc, "lse_acc", o_acc, "o_acc"));
  JFA_CHECK(expect_stat_shape(lse_part, "lse_part", o_acc, "o_acc"));
  if (jvp) {
    JFA_CHECK(expect_shape(od_acc, "od_acc", o_acc, "o_acc"));
    JFA_CHECK(expect_shape(od_part, "od_part", o_acc, "o_acc"));
    JFA_CHECK(expect_stat_shape(mu_acc, "mu_acc", o_acc, "o_acc"));
    JFA_CHECK(expect_stat_shape(mu_part, "mu_part", o_acc, "o_acc"));
  }

  for (int i = 0; i < n; ++i) JFA_CHECK(expect_stat_dtype(accs[i].t, accs[i].name, dev));
  JFA_CHECK(expect_stat_dtype(lse_part, "lse_part", dev));
  if (jvp) {
    JFA_CHECK(expect_stat_dtype(mu_part, "mu_part", dev));
    JFA_CHECK(expect_dtype(od_part, "od_part", o_part, "o_part"));
  }
  JFA_CHECK(expect_data_dtype_supported(o_part, "o_part", dev));

  JFA_CHECK(check_aliasing(parts, n, accs, n));
  return JFA_SUCCESS;
}
