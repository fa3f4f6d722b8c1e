/*
 * ring_mem.c - the ring's memory on the context's device (host malloc on the
 * CPU, cudaMalloc on CUDA), switching to the context's GPU, the layout of the
 * pool (carving, in-place accumulation) and the travelling K/V slots shared by
 * the forward and the backward (see "Memory" in ring_internal.h).
 */
#include <stdlib.h>

#ifdef JFA_HAVE_CUDA
#include <cuda_runtime.h>
#endif

#include "core/check.h"
#include "ring/ring_internal.h"

jfa_status_t jfa_ring_alloc(const jfa_context_t *ctx, size_t bytes, void **ptr) {
  *ptr = NULL;
  if (bytes == 0) bytes = 64;
  if (ctx->device == JFA_DEVICE_CPU) {
    size_t rounded = (bytes + 63) / 64 * 64;
    *ptr = aligned_alloc(64, rounded);
    if (!*ptr) JFA_FAIL(JFA_ERROR_OUT_OF_MEMORY, "ring: cannot allocate %zu bytes of host memory", bytes);
    return JFA_SUCCESS;
  }
#ifdef JFA_HAVE_CUDA
  cudaError_t e = cudaMalloc(ptr, bytes);
  if (e != cudaSuccess) {
    *ptr = NULL;
    cudaGetLastError();
    JFA_FAIL(e == cudaErrorMemoryAllocation ? JFA_ERROR_OUT_OF_MEMORY : JFA_ERROR_CUDA,
             "ring: cudaMalloc(%zu) failed: %s", bytes, cudaGetErrorString(e));
  }
  return JFA_SUCCESS;
#else
  JFA_FAIL(JFA_ERROR_UNSUPPORTED, "ring: CUDA memory in a build without CUDA");
#endif
}

void jfa_ring_free(const jfa_context_t *ctx, void *ptr) {
  if (!ptr) return;
  if (ctx->device == JFA_DEVICE_CPU) {
    free(ptr);
    return;
  }
#ifdef JFA_HAVE_CUDA
  cudaFree(ptr);
#endif
}

jfa_status_t jfa_ring_device_enter(const jfa_context_t *ctx, int *prev) {
  *prev = -1;
  if (ctx->device == JFA_DEVICE_CPU) return JFA_SUCCESS;
#ifdef JFA_HAVE_CUDA
  JFA_CUDA_CHECK(cudaGetDevice(prev));
  if (*prev != ctx->device_index) JFA_CUDA_CHECK(cudaSetDevice(ctx->device_index));
  return JFA_SUCCESS;
#else
  JFA_FAIL(JFA_ERROR_UNSUPPORTED, "ring: CUDA context in a build without CUDA");
#endif
}

void jfa_ring_device_exit(const jfa_context_t *ctx, int prev) {
#ifdef JFA_HAVE_CUDA
  if (ctx->device != JFA_DEVICE_CPU && prev >= 0 && prev != ctx->device_index) cudaSetDevice(prev);
#else
  (void)ctx;
  (void)prev;
#endif
}

/* ------------------------------------------------------------------------- */
/* pool layout                                                                */

#define RING_ALIGN ((size_t)256)

static size_t aligned(size_t bytes) { return (bytes + RING_ALIGN - 1) / RING_ALIGN * RING_ALIGN; }

size_t jfa_ring_carve(size_t *cursor, size_t bytes) {
  size_t off = *cursor;
  *cursor = off + aligned(bytes);
  return off;
}

int jfa_ring_dense(const jfa_tensor_t *t) {
  int64_t want = 1;
  for (int d = 3; d >= 0; --d) {
    if (t->shape[d] != 1 && t->stride[d] != want) return 0;
    want *= t->shape[d];
  }
  return 1;
}

int jfa_ring_acc_in_place(const jfa_ring_t *r, const jfa_tensor_t *t) {
  return t && t->dtype == r->acc && jfa_ring_dense(t);
}

/* ------------------------------------------------------------------------- */
/* travelling K/V blocks                                                      */

void jfa_ring_kv_plan(const jfa_ring_t *r, const jfa_tensor_t *const *parts, int nparts,
                      size_t *cursor, jfa_ring_kv_t *kv) {
  kv->nparts = nparts;
  kv->from_caller = 1;
  for (int i = 0; i < 4; ++i) kv->parts[i] = i < nparts ? parts[i] : NULL;
  for (int i = 0; i < nparts; ++i) kv->from_caller = kv->from_caller && jfa_ring_dense(parts[i]);
  /* step s >= 1 holds a received block; with the caller's block sent at step 0, P = 2
     receives once (one slot); otherwise the block in flight and the one computed alternate */
  if (r->size == 1) kv->slots = 0;
  else kv->slots = kv->from_caller && r->size == 2 ? 1 : 2;
  kv->slot_bytes = (size_t)nparts * (size_t)r->kv_elems * r->esz;
  kv->off = 0;
  for (int i = 0; i < kv->slots; ++i) {
    size_t off = jfa_ring_carve(cursor, kv->slot_bytes);
    if (i == 0) kv->off = off;
  }
}

/* The slot of step s (from_caller: step s >= 1 in slot (s - 1) % 2; else s % 2), or NULL
   for the caller's tensors (one rank, or step 0 sent from the caller's). */
static unsigned char *slot_of(const jfa_ring_t *r, const jfa_ring_kv_t *kv, int step) {
  if (kv->slots == 0 || (kv->from_caller && step == 0)) return NULL;
  int idx = (step - kv->from_caller) % kv->slots;
  return (unsigned char *)r->pool + kv->off + (size_t)idx * aligned(kv->slot_bytes);
}

static jfa_tensor_t part_view(const jfa_ring_t *r, unsigned char *slot, int i) {
  size_t kvb = (size_t)r->kv_elems * r->esz;
  return jfa_ring_view(r, slot + (size_t)i * kvb, r->cfg.dtype, r->cfg.heads_kv, r->n_local,
                       r->cfg.head_dim);
}

jfa_status_t jfa_ring_kv_load(const jfa_ring_t *r, const jfa_ring_kv_t *kv) {
  unsigned char *slot = slot_of(r, kv, 0);
  if (!slot) return JFA_SUCCESS;
  for (int i = 0; i < kv->nparts; ++i) {
    jfa_tensor_t dst = part_view(r, slot, i);
    JFA_CHECK(jfa_backend_convert(r->ctx, kv->parts[i], &dst));
  }
  return JFA_SUCCESS;
}

jfa_tensor_t jfa_ring_kv_block(const jfa_ring_t *r, const jfa_ring_kv_t *kv, int step, int i) {
  unsigned char *slot = slot_of(r, kv, step);
  return slot ? part_view(r, slot, i) : *kv->parts[i];
}

int jfa_ring_kv_bufs(const jfa_ring_t *r, const jfa_ring_kv_t *kv, int step, jfa_comm_buf_t *bufs) {
  unsigned char *send = slot_of(r, kv, step), *recv = slot_of(r, kv, step + 1);
  /* one message a part, from the slot (the parts back to back) or from the caller's dense tensors: the same
     messages whichever each rank sends from (ranks whose K / V differ in layout, one dense and one strided, would
     otherwise send one message against two and receive garbage or hang) */
  size_t kvb = (size_t)r->kv_elems * r->esz;
  for (int i = 0; i < kv->nparts; ++i) {
    bufs[i].send = send ? send + (size_t)i * kvb : kv->parts[i]->data;
    bufs[i].recv = recv + (size_t)i * kvb;
    bufs[i].bytes = kvb;
  }
  return kv->nparts;
}
