/*
 * tma.h - host side of the TMA (tensor memory accelerator) loads of the sm90 family:
 * tensor maps over (B, H, N, D) tensors, encoded with the driver's cuTensorMapEncodeTiled
 * reached through cudaGetDriverEntryPointByVersion (so the library does not link against
 * libcuda).
 */
#ifndef JFA_KERNELS_SM90_TMA_H_
#define JFA_KERNELS_SM90_TMA_H_

#include <cuda.h>

#include "kernels/common/view.cuh"

/** Whether a (B, H, N, D) tensor can be described by a TMA map: sm80_tensor_ok (16-bit,
 *  16-byte aligned base and strides, unit stride along D) and extents below 2^31. */
bool tma_tensor_ok(const jfa_tensor_t *t);

/** The same for float32 tensors (sm80_tensor_ok_f32 and the extent limits): the sm90 float32 kernel. */
bool tma_tensor_ok_f32(const jfa_tensor_t *t);

/** Encodes a map over t (dims D, N, H, B) with a box of 128 bytes of columns (64 16-bit or 32
 *  float32 elements) by box_rows rows of one (batch, head), 128-byte swizzle, out-of-bounds
 *  elements read as zero. */
jfa_status_t tma_map_bhsd(CUtensorMap *map, const jfa_tensor_t *t, int box_rows);

/** Encodes a map over the backward's fp32 dQ workspace, (BH, Nq, Dws) densely (dims Dws, Nq,
 *  BH), with a box of 32 columns (128 bytes) by box_rows rows of one (batch, head), 128-byte
 *  swizzle: the target of the sm90 backward's TMA reduce-adds (rows past Nq are not written). */
jfa_status_t tma_map_dq_ws(CUtensorMap *map, float *ws, int64_t BH, int64_t Nq, int64_t Dws, int box_rows);

#endif /* JFA_KERNELS_SM90_TMA_H_ */
