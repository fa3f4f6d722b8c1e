/*
 * testutil.h - shared helpers of jfa's tests: seeded random numbers (the seed is
 * printed, JFA_TEST_SEED overrides it), host-side dtype conversion (fp16/bf16
 * included), poisoning, relative error, and a pass/fail counter that prints the
 * closing line "N passed, N failed".
 *
 * Host buffers here are always contiguous BHSD arrays of doubles ("values");
 * to_dtype/from_dtype convert them to and from a tensor's storage.
 */
#ifndef JFA_TESTUTIL_H_
#define JFA_TESTUTIL_H_

#include <stddef.h>
#include <stdint.h>

#include "jfa.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Exit code a test returns when it cannot run here (CTest SKIP_RETURN_CODE). */
#define TU_SKIP 77

/** Picks the seed (JFA_TEST_SEED or the clock), prints it, seeds the generator. */
uint64_t tu_init_seed(const char *test_name);
/** Uniform double in [0, 1). */
double tu_uniform(void);
/** Standard normal double. */
double tu_normal(void);
/** Fills n doubles with normal values times scale. */
void tu_fill_normal(double *x, size_t n, double scale);

/** Rounds a double to the value the dtype stores (fp32, fp16, bf16 round-to-nearest-even). */
double tu_round(double x, jfa_dtype_t dtype);
/** Writes n values into storage of a dtype (contiguous). */
void tu_to_dtype(const double *src, void *dst, size_t n, jfa_dtype_t dtype);
/** Reads n values of a dtype (contiguous) into doubles. */
void tu_from_dtype(const void *src, double *dst, size_t n, jfa_dtype_t dtype);
/** Reads a strided tensor on the host into a contiguous BHSD array of doubles. */
void tu_gather(const jfa_tensor_t *t, double *dst);
/** Writes a contiguous BHSD array of doubles into a strided host tensor. */
void tu_scatter(const double *src, const jfa_tensor_t *t);

/** Fills n elements of storage of a dtype with NaN (a poison that no correct output keeps). */
void tu_poison(void *dst, size_t n, jfa_dtype_t dtype);
/** Number of NaN entries among n doubles (poison left, or a real NaN). */
size_t tu_count_nan(const double *x, size_t n);

/** ||a - b|| / ||b|| over n doubles; -inf entries must match exactly (else +inf is returned);
 *  a NaN anywhere returns NaN. When ||b|| == 0 the absolute norm ||a|| is returned. */
double tu_rel_err(const double *a, const double *b, size_t n);

/** tu_rel_err with the denominator at least floor_rms * sqrt(finite entries): for quantities whose
 *  reference can be near zero by cancellation while their error scales with the terms summed
 *  (a dot product's value against its terms', lse against a natural-log unit). */
double tu_rel_err_floor(const double *a, const double *b, size_t n, double floor_rms);

/** The larger of two errors, NaN when either is NaN (fmax drops a NaN: an error accumulated with it can hide a NaN
 *  or an unwritten, NaN-poisoned output). */
double tu_worst(double a, double b);

/** Records a check: prints "[PASS]/[FAIL] name: err=... tol=..." and counts it. NaN fails. */
int tu_check(const char *name, double err, double tol);
/** Records a boolean check. */
int tu_expect(const char *name, int ok);
/** Prints "N passed, N failed" and returns the process exit code (0 when nothing failed). */
int tu_finish(void);

#ifdef __cplusplus
}
#endif

#endif /* JFA_TESTUTIL_H_ */
