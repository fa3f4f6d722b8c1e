/*
 * ref64.h - an independent, naive float64 reference of jfa's attention (CMake
 * target jfa_ref64), for the tests and for the programs' --check on the CPU.
 *
 * It shares no code with src/: it uses only the types of jfa.h (jfa_tensor_t,
 * jfa_attention_params_t), calls no jfa function, and writes out the formulas
 * of jfa.h / README.md one query row at a time:
 *   S_ij = s q_i.k_j + bias_ij (masked: -inf), lse_i = log sum_j exp S_ij,
 *   P_ij = exp(S_ij - lse_i), O_i = sum_j P_ij v_j;
 *   JVP: Sd_ij = s (qd_i.k_j + q_i.kd_j), mu_i = sum_j P_ij Sd_ij,
 *        Od_i = sum_j P_ij (Sd_ij - mu_i) v_j + P_ij vd_j;
 *   backward: Delta_i = dO_i.O_i, dS_ij = P_ij (dO_i.v_j - Delta_i), dQ_i = s sum_j dS_ij k_j,
 *        dK_j = s sum_i dS_ij q_i, dV_j = sum_i P_ij dO_i, dK and dV summed over the
 *        query heads h of a GQA group (key/value head of query head h: h / (Hq / Hkv)).
 * Every mask kind by its definition (jfa.h): causal top-left (pos_q = i, pos_k = j),
 * bottom-right (pos_q = Nk - Nq + i), explicit positions (pos_q = q_position + i,
 * pos_k = k_position + j), windows (-window_left <= pos_k - pos_q <= window_right),
 * packed sequences (cu_seqlens: same sequence only, positions inside it, aligned
 * top-left or bottom-right per sequence) and dense boolean / additive masks
 * (broadcast over batch and heads); a key is visible when every mask lets it through.
 * A fully masked row gives O = Od = 0, lse = -inf, mu = 0 and zero gradients.
 *
 * Tensors are host jfa_tensor_t views (device JFA_DEVICE_CPU), read and written
 * through this file's own strided loader, which honours all four strides (the
 * head dim included). Inputs may be float64, float32, float16 or bfloat16 (bool
 * for dense masks); outputs float64 or float32. All arithmetic is float64.
 * Every function returns 0 on success, or -1 after printing "ref64: <reason>" to
 * stderr (bad shapes, dtype, device, params); nothing is written then.
 */
#ifndef JFA_REF64_H_
#define JFA_REF64_H_

#include <stdint.h>

#include "jfa.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Reads a host tensor of any dtype into a contiguous (B, H, S, D) array of doubles (numel entries). */
int ref64_load(const jfa_tensor_t *t, double *dst);

/** Writes a contiguous (B, H, S, D) array of doubles into a host float64 or float32 tensor (any strides). */
int ref64_store(const double *src, const jfa_tensor_t *t);

/**
 * Whether key j is visible to query i under the structural masks of params
 * (causal mode and positions, windows, packed sequences; not the dense mask),
 * for Nq query and Nk key rows. params NULL = defaults (everything visible).
 */
int ref64_visible(const jfa_attention_params_t *params, int64_t Nq, int64_t Nk, int64_t i, int64_t j);

/**
 * Forward: q (B, Hq, Nq, D), k and v (B, Hkv, Nk, D) -> o (B, Hq, Nq, D) and
 * lse (B, Hq, Nq, 1). params may be NULL (defaults); o or lse may be NULL (not written).
 */
int ref64_forward(const jfa_attention_params_t *params, const jfa_tensor_t *q, const jfa_tensor_t *k,
                  const jfa_tensor_t *v, const jfa_tensor_t *o, const jfa_tensor_t *lse);

/**
 * Forward and JVP: as ref64_forward plus od (shape of o) and mu (shape of lse)
 * for the tangents qd, kd, vd (shapes of q, k, v). Any of o, lse, od, mu may be NULL.
 */
int ref64_forward_jvp(const jfa_attention_params_t *params, const jfa_tensor_t *q, const jfa_tensor_t *k,
                      const jfa_tensor_t *v, const jfa_tensor_t *qd, const jfa_tensor_t *kd,
                      const jfa_tensor_t *vd, const jfa_tensor_t *o, const jfa_tensor_t *lse,
                      const jfa_tensor_t *od, const jfa_tensor_t *mu);

/**
 * Backward from dout (shape of q): dq, dk, dv (shapes of q, k, v; any may be NULL).
 * o and lse: the saved forward results to use (P = exp(S - lse), Delta = dO.O), as
 * the library's backward does; pass them to check a slice of keys against the
 * statistics of all of them. NULL: the reference computes its own (the full check).
 */
int ref64_backward(const jfa_attention_params_t *params, const jfa_tensor_t *q, const jfa_tensor_t *k,
                   const jfa_tensor_t *v, const jfa_tensor_t *o, const jfa_tensor_t *lse,
                   const jfa_tensor_t *dout, const jfa_tensor_t *dq, const jfa_tensor_t *dk,
                   const jfa_tensor_t *dv);

/**
 * Exact merge of n partial results over disjoint key sets, by the formula:
 *   lse = log sum_c exp(lse_c), w_c = exp(lse_c - lse), O = sum_c w_c O_c,
 *   mu = sum_c w_c mu_c, Od = sum_c w_c (Od_c + (mu_c - mu) O_c);
 * rows with every lse_c = -inf give (O, lse, Od, mu) = (0, -inf, 0, 0).
 * Arrays of n tensors: o_parts (B, H, N, D), lse_parts (B, H, N, 1); od_parts and
 * mu_parts both NULL for a forward-only merge (then od and mu must be NULL too).
 */
int ref64_merge(int n, const jfa_tensor_t *const *o_parts, const jfa_tensor_t *const *lse_parts,
                const jfa_tensor_t *const *od_parts, const jfa_tensor_t *const *mu_parts, const jfa_tensor_t *o,
                const jfa_tensor_t *lse, const jfa_tensor_t *od, const jfa_tensor_t *mu);

#ifdef __cplusplus
}
#endif

#endif /* JFA_REF64_H_ */
