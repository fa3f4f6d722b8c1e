/*
 * mask.cu - the host side of the device masks (mask.cuh): fills MaskDev for a call and
 * uploads the packed-sequence offsets to the workspace (or takes the caller's device arrays:
 * JFA_PARAMS_SEQLENS_DEVICE), and has the dense mask's block map built after them
 * (mask_blockmap.cu) unless the caller gave one; and jfa_attention_mask_map_build's build
 * of a map into caller memory.
 */
#include <stdlib.h>
#include <string.h>

#include "kernels/common/host.cuh"
#include "kernels/common/mask.cuh"

jfa_status_t mask_setup(jfa_context_t *ctx, const jfa_problem_t *p, void *ws, MaskDev *m) {
  mask_dev_fill(m, p);
  m->cu_q = m->cu_k = nullptr; /* device copies below */
  if (p->nseq > 0 && p->seq_dev) {
    /* JFA_PARAMS_SEQLENS_DEVICE: the caller's device arrays (where they live: cuda_call_checks), read by the kernels
       in stream order; a graph captures their addresses */
    m->cu_q = p->cu_q;
    m->cu_k = p->cu_k;
  } else if (p->nseq > 0) {
    if (!p->cu_q || !p->cu_k) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "packed sequences without offsets");
    const size_t n = (size_t)(p->nseq + 1);
    int64_t *d = (int64_t *)ws;
    /* A captured copy would read the host arrays when the graph is replayed, not now. */
    cudaStreamCaptureStatus cap = cudaStreamCaptureStatusNone;
    JFA_CUDA_CHECK(cudaStreamIsCapturing(ctx_stream(ctx), &cap));
    if (cap != cudaStreamCaptureStatusNone)
      JFA_FAIL(JFA_ERROR_UNSUPPORTED, "packed sequences during a CUDA graph capture: their offsets are host memory, "
                                      "copied to the device per call, which a graph would replay from memory freed "
                                      "since (give device offsets: JFA_PARAMS_SEQLENS_DEVICE)");
    /* Through a heap copy of ours: cudaMemcpyAsync stages pageable memory before it returns, so the caller may reuse
       its arrays at once, pinned ones (whose copy would run later, asynchronously) too. */
    int64_t *h = (int64_t *)malloc(2 * n * sizeof(int64_t));
    if (!h) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "cannot stage %zu packed-sequence offsets", 2 * n);
    memcpy(h, p->cu_q, n * sizeof(int64_t));
    memcpy(h + n, p->cu_k, n * sizeof(int64_t));
    const cudaError_t e = cudaMemcpyAsync(d, h, 2 * n * sizeof(int64_t), cudaMemcpyHostToDevice, ctx_stream(ctx));
    free(h);
    JFA_CUDA_CHECK(e);
    m->cu_q = d;
    m->cu_k = d + n;
  }
  if (p->dmask) {
    const jfa_tensor_t *t = p->dmask;
    switch (t->dtype) {
      case JFA_DTYPE_BOOL: m->dm_kind = MASK_DENSE_BOOL; break;
      case JFA_DTYPE_FLOAT32: m->dm_kind = MASK_DENSE_F32; break;
      case JFA_DTYPE_FLOAT16: m->dm_kind = MASK_DENSE_F16; break;
      case JFA_DTYPE_BFLOAT16: m->dm_kind = MASK_DENSE_BF16; break;
      default: JFA_FAIL(JFA_ERROR_UNSUPPORTED, "attn_mask: dtype %d is not supported on CUDA", (int)t->dtype);
    }
    m->dm = make_view(t);
    if (t->shape[0] == 1) m->dm.sb = 0;
    if (t->shape[1] == 1) m->dm.sh = 0;
    if (m->dm_kind != MASK_DENSE_BOOL) {
      const int64_t es = mask_bias_esize(m->dm_kind);
      m->bias_vec = (t->shape[3] == 1 ? p->Nk == 1 : m->dm.sd == 1) && (uintptr_t)m->dm.p % 16 == 0 &&
                    (m->dm.sb * es) % 16 == 0 && (m->dm.sh * es) % 16 == 0 && (m->dm.ss * es) % 16 == 0;
    }
    JFA_CHECK(mask_blockmap_build(ctx_stream(ctx), p, ws, m));
  }
  return JFA_SUCCESS;
}

extern "C" jfa_status_t jfa_cuda_check_device_memory(const jfa_context_t *ctx, const void *ptr, const char *name) {
  return device_memory_where(ctx, ptr, name);
}

extern "C" jfa_status_t jfa_cuda_mask_map_build(jfa_context_t *ctx, const jfa_problem_t *p, void *map) {
  JFA_DEVICE_GUARD(g, ctx);
  /* mask_setup's own build with map as its workspace: without packed sequences the map begins at its base, in the
     layout a call given the map reads (mask_blockmap.cu bmap_parts) */
  jfa_problem_t q = *p;
  q.dmap = nullptr;
  q.nseq = 0;
  q.cu_q = q.cu_k = nullptr;
  MaskDev m;
  return mask_setup(ctx, &q, map, &m);
}
