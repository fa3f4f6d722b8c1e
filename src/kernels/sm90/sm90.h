/*
 * sm90.h - the launchers of the sm90 family (wgmma + TMA, sm_90a) that its family.cu
 * calls: one function template per op, instantiated per head dim by the files of inst/.
 */
#ifndef JFA_KERNELS_SM90_SM90_H_
#define JFA_KERNELS_SM90_SM90_H_

#include <cuda.h>
#include <string.h>

#include "kernels/common/softmax.cuh"
#include "kernels/sm80/bwd_jvp.h" /* BwdJvpArgs, shared with the sm80 backward-JVP */
#include "kernels/sm80/sm80.h"   /* BwdArgs, shared with the sm80 backward */
#include "kernels/sm90/tiles.h"
#include "kernels/sm90/tma.h"

/* The TMA maps of one forward call (passed by value in kernel parameter space). */
struct Sm90Maps {
  CUtensorMap q, k, v, qd, kd, vd;
  CUtensorMap bias; /* a 16-bit additive dense mask the MASKED forward / JVP load by TMA (fwd.cuh), when given */
};

/* The tensors of one call; the launcher encodes their TMA maps with its own tile shape. */
struct Sm90Tensors {
  const jfa_tensor_t *q, *k, *v, *qd, *kd, *vd;
  const jfa_tensor_t *bias; /* the call's 16-bit additive dense mask, where the forward stages its tiles (family.cu) */
};

/* The TMA map of a 16-bit additive mask's tiles (the sm90 forward / JVP and backward): boxes of 64 keys x rows rows
   (tma_map_bhsd); a broadcast axis (stride 0) as an axis of one, which the kernels read at coordinate 0. */
static inline jfa_status_t sm90_bias_map(CUtensorMap *map, const jfa_tensor_t *bias, int rows) {
  jfa_tensor_t m = *bias;
  for (int ax = 0; ax < 2; ++ax)
    if (m.stride[ax] == 0) m.shape[ax] = 1;
  return tma_map_bhsd(map, &m, rows);
}

/* The TMA maps of a forward call (fwd.cuh, fwd_f32.cuh): q (and qd) in boxes of bm rows, k, v (and
   kd, vd) of bn, 128 bytes of columns each (tma_map_bhsd); the others zero. */
static inline jfa_status_t sm90_fwd_maps(Sm90Maps *tm, const Sm90Tensors &t, int bm, int bn, bool jvp) {
  memset(tm, 0, sizeof(*tm));
  JFA_CHECK(tma_map_bhsd(&tm->q, t.q, bm));
  JFA_CHECK(tma_map_bhsd(&tm->k, t.k, bn));
  JFA_CHECK(tma_map_bhsd(&tm->v, t.v, bn));
  if (jvp) {
    JFA_CHECK(tma_map_bhsd(&tm->qd, t.qd, bm));
    JFA_CHECK(tma_map_bhsd(&tm->kd, t.kd, bn));
    JFA_CHECK(tma_map_bhsd(&tm->vd, t.vd, bn));
  }
  if (t.bias && bn >= 64) JFA_CHECK(sm90_bias_map(&tm->bias, t.bias, bm)); /* bn = 32: warp 1's cp.async (fwd.cuh) */
  return JFA_SUCCESS;
}

/** The route of the 16-bit forward / JVP (fwd.cuh sm90_fwd_variant) or backward (bwd.cuh launch_bwd_sm90a): which
 *  kernel ran, as bits that jfa_cuda_last_route / jfa_cuda_last_bwd_route report (core/backend.h) for the tests of the
 *  per-call switches. */
enum {
  SM90_ROUTE_PERSIST = 1, /* a persistent kernel (fwd_persist.cuh, jvp_persist.cuh, bwd.cuh PERSIST) */
  SM90_ROUTE_MASKED = 2,  /* the MASKED instantiation (interval masks in shared memory, dense masks) */
  SM90_ROUTE_BAND = 4     /* a window (or aligned packed sequences) on the unmasked kernel (sm90_fwd_band, sm90_bwd_band) */
};
/** Records the route of the forward or backward call being launched on this thread (family.cu keeps it for the
 *  context). */
void sm90_route_note(int route);

/** Forward (JVP = false) or fused forward+JVP at head dim D (64 or 128) for the 16-bit type T;
 *  inst/fwd_d<D>.cu and inst/jvp_d<D>.cu instantiate it. */
template <typename T, int D, bool JVP> jfa_status_t sm90_fwd_d(const FwdArgs &a, const Sm90Tensors &t, cudaStream_t st);
/** Float32 forward (JVP = false) or fused forward+JVP at head dim D (fwd_f32.cuh; JFA_SM90_F32 builds):
 *  one TF32 product when tf32, else 3xTF32; inst/fwd_f32_d<D>.cu and inst/jvp_f32_d<D>.cu instantiate it. */
template <int D, bool JVP>
jfa_status_t sm90_fwd_f32_d(const FwdArgs &a, const Sm90Tensors &t, bool tf32, cudaStream_t st);
/* The tensors of a backward call the launcher encodes TMA maps for (dq: the float32 kernel's, when a.dq_direct). */
struct Sm90BwdTensors {
  const jfa_tensor_t *q, *k, *v, *dout, *dq;
  const jfa_tensor_t *bias; /* the call's 16-bit additive dense mask, where the masked backward stages its tiles */
};

/** Backward (bwd.cuh) at head dim D (64 or 128) for the 16-bit type T: dK, dV
 *  written (or added), dQ added into a.dq_ws unless a.skip_dq; inst/bwd_d<D>.cu instantiates it. */
template <typename T, int D> jfa_status_t sm90_bwd_d(const BwdArgs &a, const Sm90BwdTensors &t, cudaStream_t st);
/** Whether the masked backward kernel of head dim D has the shared memory for a 16-bit additive mask's tiles beside
 *  its stages (bwd.cuh Sm90Bwd::BIAS_OK); inst/bwd_d<D>.cu. */
template <int D> bool sm90_bwd_bias_fits_d(void);
/** Float32 backward (bwd_f32.cuh; JFA_SM90_F32 builds) at head dim D (64): one TF32 product when tf32,
 *  else 3xTF32; dK, dV written (or added), dQ added into a.dq_ws (a.dq_direct: scaled, into t.dq) unless
 *  a.skip_dq; inst/bwd_f32_d<D>.cu. */
template <int D> jfa_status_t sm90_bwd_f32_d(const BwdArgs &a, const Sm90BwdTensors &t, bool tf32, cudaStream_t st);
/* The 16-bit tensors of a backward-JVP call the launcher encodes TMA maps for. */
struct Sm90BwdJvpTensors {
  const jfa_tensor_t *q, *k, *v, *qd, *kd, *vd, *dout, *doutd;
};

/** Backward-JVP (bwd_jvp.cuh) at head dim D (64 or 128) for the 16-bit type T: dKd, dVd written (or
 *  added), dQd added into a.dqd_ws unless it is NULL (a.dq_ws, a.dk, a.dv unused: the first-order outputs
 *  come from sm90_bwd_d); inst/bwd_jvp_d<D>.cu instantiates it. */
template <typename T, int D>
jfa_status_t sm90_bwd_jvp_d(const BwdJvpArgs &a, const Sm90BwdJvpTensors &t, cudaStream_t st);
/** Whether the masked forward (JVP = false) or JVP kernel of head dim D has the shared memory for a 16-bit additive
 *  mask's tiles beside its stages (fwd.cuh Sm90Fwd::SMEM_BIAS); inst/fwd_d<D>.cu and inst/jvp_d<D>.cu. */
template <int D, bool JVP> bool sm90_fwd_bias_fits_d(void);
/** Whether the bf16 forward kernel of head dim D has code for the current device (inst/fwd_d<D>.cu). */
template <int D> bool sm90_probe_d(void);

#endif /* JFA_KERNELS_SM90_SM90_H_ */
