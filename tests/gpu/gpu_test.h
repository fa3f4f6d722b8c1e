/*
 * gpu_test.h - helpers of the GPU tests: device tensors that keep a host copy of
 * their values as doubles, upload with rounding to the dtype, NaN poisoning, and
 * the float64 reference computed by jfa's CPU backend through the public API.
 */
#ifndef JFA_GPU_TEST_H_
#define JFA_GPU_TEST_H_

#include <stddef.h>
#include <stdint.h>

#include "jfa.h"
#include "testutil.h"

/** A device tensor (t) with its values as contiguous BHSD doubles (val). */
typedef struct {
  jfa_tensor_t t;
  double *val;
  size_t n;
  size_t bytes;
} gbuf_t;

/** Allocates a device tensor of a dtype, BHSD (bshd = 0) or BSHD (bshd = 1). */
gbuf_t gb_new(jfa_dtype_t dtype, int bshd, int64_t B, int64_t H, int64_t S, int64_t D);
/** Draws normal values times scale, rounds them to the dtype and uploads them. */
void gb_random(gbuf_t *b, double scale);
/** Uploads values (rounded to the dtype; val receives the stored values). */
void gb_set(gbuf_t *b, const double *values);
/** Fills the device storage with NaN. */
void gb_poison(gbuf_t *b);
/** Downloads the device storage into val (synchronises the device). */
void gb_get(gbuf_t *b);
/** Frees both copies. */
void gb_free(gbuf_t *b);
/** The values of n buffers (downloaded: synchronises the device), concatenated into one array (free it): a run's
 *  outputs, for bitwise comparison with gb_same. */
double *gb_snapshot(gbuf_t *const *b, int n);
/** Whether the n buffers hold bitwise the values of a gb_snapshot ref. */
int gb_same(gbuf_t *const *b, int n, const double *ref);
/** Fills every SM's shared memory with a pattern from seed (smem_poison.cu: finite values for an even seed, any bits,
 *  NaN and infinity among them, for an odd one; synchronises the device), so that a kernel reading shared memory it did
 *  not write gives seed-dependent results; 0 when it could not run. */
int gt_poison_shared_memory(unsigned seed);
/** The first of the n buffers whose values differ bitwise from a gb_snapshot ref (-1: none), with the number of its
 *  elements that differ in *count (when count is not NULL): what a failed gb_same check names. */
int gb_first_diff(gbuf_t *const *b, int n, const double *ref, size_t *count);

/** A float64 host tensor in BHSD holding `val` (no copy), for the CPU reference. */
jfa_tensor_t host_f64(double *val, int64_t B, int64_t H, int64_t S, int64_t D);

/** Exits with TU_SKIP (77) when no GPU is usable. */
void gt_require_gpu(void);
/** For a test of sm90 kernels alone (its bitwise checks compare them with each other): exits with TU_SKIP (77)
 *  unless path_of(D) (gt_expected_path, _jvp_path, _bwd_path) is the sm90 family for one of dims (0-ended) here:
 *  a GPU of another compute capability, a build without the sm_90a kernels or those head dims, JFA_KERNEL_PATH. */
void gt_require_sm90(const char *name, int (*path_of)(int64_t), const int *dims);

/** Aborts the test (exit 1) with the jfa error message when s != JFA_SUCCESS. */
void gt_ok(jfa_status_t s, const char *what);

/** Route bits of jfa_cuda_last_route (src/core/backend.h; src/kernels/sm90/sm90.h SM90_ROUTE_*): the sm90 16-bit
 *  forward / JVP on a persistent kernel, on its MASKED instantiation, a window as a band on the unmasked kernel. */
enum { GT_ROUTE_PERSIST = 1, GT_ROUTE_MASKED = 2, GT_ROUTE_BAND = 4 };
/** The GT_ROUTE_MASKED / GT_ROUTE_BAND bits the sm90 16-bit forward (jvp = 0) or JVP must report for a call with
 *  these masks: a window without packed sequences, or packed sequences aligned to the band's blocks (packed = 2:
 *  gt_packed_kind; with or without a window; JFA_SM90_FWD_PACKED_BAND=0 turns those off), no dense mask, as a band on
 *  the unmasked kernels where the library's tiles.h sm90_fwd_band_on says so (the JVP only; JFA_SM90_FWD_BAND=1 / 0
 *  overrides), any other mask beyond causal on the MASKED instantiation, none 0. packed: 0 none, 1 packed sequences
 *  not aligned, 2 aligned, -1 not known (tuning variants): then -1, which gt_check_route takes for no expectation
 *  (-1 | other bits is -1). */
int gt_expected_route(int windowed, int packed, int dense, int jvp);
/** The packed argument of gt_expected_route for ns packed sequences with offsets cq / ck at head dim D: 0 without
 *  them, 2 for self-attention offsets (cq == ck) whose boundaries inside (0, Nq) are multiples of the alignment the
 *  sm90 16-bit forward (jvp = 0) or JVP needs for a band (src/kernels/sm90/fwd.cuh sm90_fwd_variant: the least common
 *  multiple of its kernels' row and key blocks, row 0's tiles; keep in step), else 1; -1 for self-attention offsets
 *  under JFA_TUNE_SM90A (tuning variants' tiles have other blocks). */
int gt_packed_kind(int64_t D, int jvp, const int64_t *cq, const int64_t *ck, int ns);
/** Whether the sm90 16-bit forward (outside accumulate mode) must run persistent (GT_ROUTE_PERSIST) for a call of head
 *  dim D with these masks beyond causal (windows, packed sequences, a dense mask): D = 128 (fwd_persist.cuh, row 0)
 *  and D = 64's masked calls (its masked tiles, tiles.h MASKV = 29, since the twenty-third session; windows on
 *  variant 34's since the twenty-fifth, packed sequences since the twenty-seventh), never with a dense mask (boolean or additive); -1 (no
 *  expectation) under JFA_TUNE_SM90A. Plain causal calls are not its business (D = 64's of up to 4096 keys run
 *  persistent too since the twenty-fifth session: tiles.h sm90_fwd_nc3p_causal_max_nk). Keep in step with
 *  src/kernels/sm90/fwd.cuh sm90_fwd_variant. */
int gt_expected_fwd_persist(int64_t D, int windowed, int packed, int dense);
/** prm initialised (jfa_attention_params_init) with these masks: the mode, the positions, the window sides and ns
 *  packed sequences at offsets cq / ck (none when ns = 0): the case tables' one way of filling the params. */
void gt_params_masks(jfa_attention_params_t *prm, jfa_mask_t mask, int64_t qpos, int64_t kpos, int64_t wl, int64_t wr,
                     int64_t ns, const int64_t *cq, const int64_t *ck);
/** Checks that the context's last forward took route `want` in the GT_ROUTE_* bits `bits` (jfa_cuda_last_route);
 *  want < 0: no expectation (passes). */
int gt_check_route(jfa_context_t *gpu, const char *name, int bits, int want);

/** Checks that the context's last backward took route `want` in the GT_ROUTE_* bits `bits` (jfa_cuda_last_bwd_route:
 *  the sm90 16-bit backward's persistent unmasked kernel, its MASKED instantiation, a band on the unmasked kernel);
 *  want < 0: no expectation (passes). */
int gt_check_bwd_route(jfa_context_t *gpu, const char *name, int bits, int want);
/** Whether the sm90 16-bit backward's unmasked kernel (D = 64, 96, 128; not accumulate mode) must run persistent
 *  (GT_ROUTE_PERSIST) for a call of Nk keys: JFA_SM90_BWD_PERSIST=1 / 0 as set, else the library's default (tiles.h
 *  kSm90BwdPersist up to kSm90BwdPersistMaxNk keys; keep in step); -1 (no expectation) under tuning builds'
 *  JFA_TUNE_SM90_BWD / JFA_TUNE_BWD_OLD. */
int gt_expected_bwd_persist(int64_t Nk);
/** A copy of environment variable name's value (free it), or NULL when unset: what gt_set_env restores after the
 *  runs of a case that set the library's per-call switches. */
char *gt_env_copy(const char *name);
/** Sets environment variable name to value, or unsets it when value is NULL (the library reads its per-call switches
 *  at each call, so runs of one process can take different routes). */
void gt_set_env(const char *name, const char *value);

/** Kernel families of jfa_cuda_last_kernel (src/core/backend.h; the folders of src/kernels). */
enum { GT_PATH_SIMT = 0, GT_PATH_SM80 = 1, GT_PATH_SM90 = 2 };
/** The kernel family jfa must pick for the forward of a 16-bit, unmasked (or causal) call with
 *  aligned tensors and head dim D on this device and build, honouring JFA_KERNEL_PATH: sm90 at
 *  D = 64, 96, 128, 192, 256 on compute capability 9.0 with the sm_90a kernels, else sm80. */
int gt_expected_path(int64_t D);
/** The same for the fused forward+JVP (the same head dims; 192 and 256 in the column split). */
int gt_expected_jvp_path(int64_t D);
/** The kernel family jfa must pick for the backward of such a call: sm90 at D = 64, 96, 128,
 *  192, 256 (where the forward's is) unless JFA_SM90_BWD=0 (the sm90 backward takes causal and the
 *  interval masks: windows, positions, packed sequences, and boolean dense masks (at every head dim since the
 *  nineteenth session; before it at D = 64 and 128 only); 16-bit biases with aligned rows see
 *  gt_expected_bwd_bias_path; other additive masks go to sm80), else sm80
 *  (simt under JFA_KERNEL_PATH=simt). */
int gt_expected_bwd_path(int64_t D);
/** The kernel family jfa must pick for a float32 forward (jvp = 0) or fused forward+JVP with
 *  packed tensors at head dim D (beyond_causal: masks other than causal and a boolean dense mask), honouring
 *  JFA_KERNEL_PATH: sm90 (wgmma TF32) at D = 32, 64 and 128 (the JVP at 32 and 64), unmasked, causal or with a
 *  boolean dense mask, on
 *  compute capability 9.0 in JFA_SM90_F32 builds; else sm80 (mma.sync TF32) for D a multiple of
 *  4 up to 256 (the forward at 128 < D <= 192 on its D = 256 tiles); else simt. */
int gt_expected_f32_path(int64_t D, int jvp, int beyond_causal);
/** Whether the sm90 float32 forward / JVP take boolean dense masks (JFA_SM90_F32_DENSE, else the library's
 *  tiles.h kSm90F32Dense, which GT_SM90_F32_DENSE_DEFAULT mirrors): where not, a boolean mask is beyond causal
 *  for gt_expected_f32_path. */
int gt_sm90_f32_dense_on(void);
/** Whether the sm90 16-bit forward / JVP take additive dense masks of 16-bit biases with unit key stride and 16-byte
 *  aligned rows (JFA_SM90_BIAS, else the library's tiles.h kSm90Bias, which GT_SM90_BIAS_DEFAULT mirrors). */
int gt_sm90_bias_on(void);
/** The same for the sm90 16-bit backward (JFA_SM90_BWD_BIAS, else tiles.h kSm90BwdBias, which GT_SM90_BWD_BIAS_DEFAULT
 *  mirrors). */
int gt_sm90_bwd_bias_on(void);
/** The family the backward of such a call (16-bit biases, aligned rows) must run on: gt_expected_bwd_path's but sm80
 *  at D = 256 (the masked column split has no room for the bias tile) and under JFA_SM90_BWD_BIAS=0. */
int gt_expected_bwd_bias_path(int64_t D);
/** The head dim of the sm90 kernels a 16-bit call with a dense mask runs on: 64 for a multiple of 8 below 64 (the
 *  library's tiles.h kSm90PadDense, which GT_SM90_PAD_DENSE_DEFAULT mirrors, or JFA_SM90_PAD_DENSE), else D. */
int gt_dense_dim(int64_t D);
/** The family the forward / JVP of a 16-bit call with a dense mask (boolean, or 16-bit biases of aligned rows where
 *  gt_sm90_bias_on) must run on: sm90 where gt_dense_dim pads D and the D = 64 call would run there, else
 *  gt_expected_path(D). */
int gt_expected_dense_path(int64_t D);
/** The same for its backward: gt_expected_bwd_path (bias16: gt_expected_bwd_bias_path) at the padded head dim where
 *  that is sm90, else at D. */
int gt_expected_dense_bwd_path(int64_t D, int bias16);
/** Whether the sm90 float32 backward takes boolean dense masks (JFA_SM90_F32_BWD_DENSE, else the library's tiles.h
 *  kSm90BwdF32Dense, which GT_SM90_F32_BWD_DENSE_DEFAULT mirrors): where it does, such a mask is not beyond causal
 *  for gt_expected_f32_bwd_path. */
int gt_sm90_f32_bwd_dense_on(void);
/** The family of a float32 backward with packed tensors at head dim D (beyond_causal: masks other
 *  than causal): sm90 (wgmma TF32, sm90/bwd_f32.cuh) at D = 64, unmasked or causal, on compute
 *  capability 9.0 in JFA_SM90_F32 builds when it is switched on (JFA_SM90_F32_BWD=1, or unset with the
 *  library's default kSm90BwdF32 on: GT_SM90_F32_BWD_DEFAULT mirrors it) and not JFA_SM90_BWD=0;
 *  else sm80 for D a multiple of 4 up to 256 (128 < D <= 256 on the D = 256 two-slice tiles, unless
 *  JFA_SM80_F32_BWD256=0; GT_SM80_F32_BWD256_DEFAULT mirrors kSm80F32Bwd256), else simt. */
int gt_expected_f32_bwd_path(int64_t D, int beyond_causal);
/** The family of a 16-bit / float32 backward-JVP (jfa_attention_backward_jvp) with packed tensors at head dim
 *  D (dense: a dense mask; first_order: dq, dk, dv asked too), honouring JFA_KERNEL_PATH: sm90
 *  (sm90/bwd_jvp.cuh) for bf16 / fp16 at D = 64 and 128, causal, windows, packed sequences (no dense mask), on
 *  compute capability 9.0 when it is switched on (JFA_SM90_BWD_JVP=1, or unset with the library's default
 *  kSm90BwdJvp on: GT_SM90_BWD_JVP_DEFAULT mirrors it), and, with first_order, not JFA_SM90_BWD=0 (the
 *  sm90 backward gives dq, dk, dv); else sm80 for bf16 / fp16 up to D = 128; else simt. */
int gt_expected_bwd_jvp_path(jfa_dtype_t dtype, int64_t D, int dense, int first_order);
/** Checks that the context's last forward (backward = 0) or backward call ran on `want`
 *  (records a failure otherwise); returns 1 if it did. */
int gt_check_path(jfa_context_t *gpu, const char *name, int backward, int want);
/** Whether a 16-bit call of head dim D with aligned tensors must run on a tensor-core family
 *  (D a multiple of 8, at most 256, its row in this build's JFA_HEAD_DIMS). */
int gt_tensor_core_dim(jfa_dtype_t dtype, int64_t D);
/** Checks that the last forward (backward = 0) or backward call ran on a tensor-core family
 *  (sm80 or sm90; sm80 under JFA_KERNEL_PATH=sm80, simt under =simt), for calls with masks
 *  beyond causal, which either family may take; returns 1 if it did. */
int gt_check_tensor_core(jfa_context_t *gpu, const char *name, int backward);

/* Comma-separated lengths ("7,129,300": packed-sequence lengths) into lens (at most max); the count. */
int gt_parse_lens(const char *s, int64_t *lens, int max);
/* A case's packed sequences: the lengths seq_q and seq_k (NULL: seq_q's) into the offsets cq, ck
 *  (count + 1 entries each; at most 64 sequences) and their totals *Nq, *Nk. Returns the count, or
 *  -1, with a failure recorded, when the two lists differ in count. */
int gt_packed_offsets(const char *seq_q, const char *seq_k, int64_t *cq, int64_t *ck, int64_t *Nq, int64_t *Nk);

/* The view of rows [r0, r0 + n) along axis of t (axis 2: sequence positions; 3: mask columns). */
jfa_tensor_t gt_rows(const jfa_tensor_t *t, int axis, int64_t r0, int64_t n);

/* Whether row r of a contiguous (rows, D) double array is all zero. */
int gt_row_zero(const double *x, int64_t r, int64_t D);

/** The tolerance of a dtype: bf16 1e-2, fp16 2e-3, fp32 1e-5. */
double gt_tol(jfa_dtype_t dtype);

/** Checks that val has no NaN (every element written) and rel err <= tol; returns 1 if passed. */
int gt_compare(const char *name, const double *got, const double *ref, size_t n, double tol);

/** gt_compare with the error's denominator at least floor_rms * sqrt(n) (tu_rel_err_floor). */
int gt_compare_floor(const char *name, const double *got, const double *ref, size_t n, double tol, double floor_rms);

/** One case of a case-list test, given a CUDA and a CPU context. */
typedef void (*gt_case_fn)(int ci, jfa_context_t *gpu, jfa_context_t *cpu);

/**
 * The main of a case-list GPU test: exits 77 without a GPU, seeds (name for the
 * seed line), makes the two contexts, runs case argv[1] (modulo ncases) or every
 * case, and returns tu_finish().
 */
int gt_main(int argc, char **argv, const char *name, int ncases, gt_case_fn run_case);

#endif /* JFA_GPU_TEST_H_ */
