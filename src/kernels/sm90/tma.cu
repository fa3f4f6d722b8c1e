/*
 * tma.cu - TMA tensor maps for the sm90 family (see tma.h); host code, built with the
 * other families (not for sm_90a alone). The driver entry point is looked up once per
 * process.
 */
#include <atomic>

#include "kernels/family.h"
#include "kernels/sm90/tma.h"

typedef CUresult (*EncodeTiledFn)(CUtensorMap *, CUtensorMapDataType, cuuint32_t, void *, const cuuint64_t *,
                                  const cuuint64_t *, const cuuint32_t *, const cuuint32_t *, CUtensorMapInterleave,
                                  CUtensorMapSwizzle, CUtensorMapL2promotion, CUtensorMapFloatOOBfill);

static jfa_status_t encode_fn(EncodeTiledFn *out) {
  static std::atomic<EncodeTiledFn> cached{nullptr};
  EncodeTiledFn fn = cached.load();
  if (!fn) {
    void *ptr = nullptr;
    cudaDriverEntryPointQueryResult q = cudaDriverEntryPointSymbolNotFound;
    JFA_CUDA_CHECK(cudaGetDriverEntryPointByVersion("cuTensorMapEncodeTiled", &ptr, 12000, cudaEnableDefault, &q));
    if (q != cudaDriverEntryPointSuccess || !ptr)
      JFA_FAIL(JFA_ERROR_CUDA, "the CUDA driver has no cuTensorMapEncodeTiled (query result %d)", (int)q);
    fn = (EncodeTiledFn)ptr;
    cached.store(fn);
  }
  *out = fn;
  return JFA_SUCCESS;
}

/* The TMA extent limits: extents below 2^31, strides below 2^38 elements. */
static bool tma_extents_ok(const jfa_tensor_t *t) {
  for (int i = 0; i < 4; ++i)
    if (t->shape[i] >= ((int64_t)1 << 31)) return false;
  for (int i = 0; i < 3; ++i)
    if (t->shape[i] > 1 && t->stride[i] >= ((int64_t)1 << 38)) return false;
  return true;
}

bool tma_tensor_ok(const jfa_tensor_t *t) {
  /* the tensor-core rule (16-bit, aligned rows and strides), plus the TMA extent limits */
  return sm80_tensor_ok(t) && tma_extents_ok(t);
}

bool tma_tensor_ok_f32(const jfa_tensor_t *t) { return sm80_tensor_ok_f32(t) && tma_extents_ok(t); }

jfa_status_t tma_map_bhsd(CUtensorMap *map, const jfa_tensor_t *t, int box_rows) {
  if (!tma_tensor_ok(t) && !tma_tensor_ok_f32(t)) JFA_FAIL(JFA_ERROR_INTERNAL, "tensor not describable by a TMA map");
  const cuuint64_t esz = t->dtype == JFA_DTYPE_FLOAT32 ? 4 : 2;
  EncodeTiledFn fn;
  JFA_CHECK(encode_fn(&fn));
  /* dims fastest first: D, N, H, B; a size-1 dim gets a harmless valid stride */
  const cuuint64_t dims[4] = {(cuuint64_t)t->shape[3], (cuuint64_t)t->shape[2], (cuuint64_t)t->shape[1],
                              (cuuint64_t)t->shape[0]};
  cuuint64_t strides[3];
  cuuint64_t inner = (cuuint64_t)t->shape[3] * esz;
  for (int i = 0; i < 3; ++i) {
    const int ax = 2 - i; /* N, H, B */
    cuuint64_t s = (cuuint64_t)t->stride[ax] * esz;
    if (t->shape[ax] == 1) s = (inner + 15) / 16 * 16;
    strides[i] = s;
    inner = s * (cuuint64_t)t->shape[ax];
  }
  const cuuint32_t box[4] = {(cuuint32_t)(128 / esz), (cuuint32_t)box_rows, 1, 1}; /* 128-byte rows */
  const cuuint32_t estr[4] = {1, 1, 1, 1};
  const CUtensorMapDataType dt = t->dtype == JFA_DTYPE_FLOAT32    ? CU_TENSOR_MAP_DATA_TYPE_FLOAT32
                                 : t->dtype == JFA_DTYPE_BFLOAT16 ? CU_TENSOR_MAP_DATA_TYPE_BFLOAT16
                                                                  : CU_TENSOR_MAP_DATA_TYPE_FLOAT16;
  CUresult r = fn(map, dt, 4, t->data, dims, strides, box, estr, CU_TENSOR_MAP_INTERLEAVE_NONE,
                  CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    JFA_FAIL(JFA_ERROR_CUDA, "cuTensorMapEncodeTiled failed (CUresult %d) for a (%lld, %lld, %lld, %lld) tensor",
             (int)r, (long long)t->shape[0], (long long)t->shape[1], (long long)t->shape[2], (long long)t->shape[3]);
  return JFA_SUCCESS;
}

jfa_status_t tma_map_dq_ws(CUtensorMap *map, float *ws, int64_t BH, int64_t Nq, int64_t Dws, int box_rows) {
  if (((uintptr_t)ws & 15) || Dws % 4 || BH >= ((int64_t)1 << 31) || Nq >= ((int64_t)1 << 31))
    JFA_FAIL(JFA_ERROR_INTERNAL, "dQ workspace not describable by a TMA map");
  EncodeTiledFn fn;
  JFA_CHECK(encode_fn(&fn));
  const cuuint64_t dims[3] = {(cuuint64_t)Dws, (cuuint64_t)Nq, (cuuint64_t)BH};
  const cuuint64_t strides[2] = {(cuuint64_t)Dws * 4, (cuuint64_t)(Nq * Dws) * 4};
  const cuuint32_t box[3] = {32, (cuuint32_t)box_rows, 1};
  const cuuint32_t estr[3] = {1, 1, 1};
  CUresult r = fn(map, CU_TENSOR_MAP_DATA_TYPE_FLOAT32, 3, ws, dims, strides, box, estr, CU_TENSOR_MAP_INTERLEAVE_NONE,
                  CU_TENSOR_MAP_SWIZZLE_128B, CU_TENSOR_MAP_L2_PROMOTION_L2_256B, CU_TENSOR_MAP_FLOAT_OOB_FILL_NONE);
  if (r != CUDA_SUCCESS)
    JFA_FAIL(JFA_ERROR_CUDA, "cuTensorMapEncodeTiled failed (CUresult %d) for the (%lld, %lld, %lld) dQ workspace",
             (int)r, (long long)BH, (long long)Nq, (long long)Dws);
  return JFA_SUCCESS;
}
