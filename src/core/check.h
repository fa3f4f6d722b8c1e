/*
 * check.h - private error handling of jfa: the per-thread last-error message and
 * the CHECK macros that propagate a failing status with file:line context.
 *
 *   JFA_FAIL(status, fmt, ...)  set the last error and return status
 *   JFA_CHECK(expr)             return expr's status if it is not JFA_SUCCESS,
 *                               adding " <- file:line" to the message
 *   JFA_CUDA_CHECK(call)        map a cudaError_t to JFA_ERROR_CUDA (include cuda_runtime.h first)
 *   JFA_NCCL_CHECK(call)        map an ncclResult_t to JFA_ERROR_NCCL (include nccl.h first)
 *   JFA_MPI_CHECK(call)         map an MPI error code to JFA_ERROR_MPI (include mpi.h first)
 *
 * Usable from C and from CUDA (C++) translation units.
 */
#ifndef JFA_CORE_CHECK_H_
#define JFA_CORE_CHECK_H_

#include "jfa.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Records a failure (printf-style message, prefixed by file:line) and returns status. */
jfa_status_t jfa_set_error(jfa_status_t status, const char *file, int line, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;

/** Appends " <- file:line" to the last error message (propagation context). */
void jfa_error_trace(const char *file, int line);

#ifdef __cplusplus
}
#endif

#define JFA_FAIL(status, ...) return jfa_set_error((status), __FILE__, __LINE__, __VA_ARGS__)

#define JFA_CHECK(expr)                        \
  do {                                         \
    jfa_status_t jfa_s_ = (expr);              \
    if (jfa_s_ != JFA_SUCCESS) {               \
      jfa_error_trace(__FILE__, __LINE__);     \
      return jfa_s_;                           \
    }                                          \
  } while (0)

/* What a CUDA error's message adds when the error is sticky (a kernel faulted, jfa's or another's): every later CUDA
   call of the process fails the same way, whatever it is, so the failing call is rarely the culprit. (A macro: this
   header is read before the CUDA headers by some files, and without them by the C ones.) */
#define JFA_CUDA_STICKY_NOTE(e)                                                                              \
  ((e) == cudaErrorIllegalAddress || (e) == cudaErrorLaunchFailure || (e) == cudaErrorIllegalInstruction ||    \
           (e) == cudaErrorMisalignedAddress || (e) == cudaErrorInvalidAddressSpace || (e) == cudaErrorInvalidPc || \
           (e) == cudaErrorHardwareStackError || (e) == cudaErrorAssert || (e) == cudaErrorECCUncorrectable ||      \
           (e) == cudaErrorLaunchTimeout                                                                        \
       ? "; a sticky error: a kernel of this process faulted earlier (any library's) and its CUDA context is "      \
         "unusable until the process restarts"                                                                  \
       : "")

/* The format and arguments of a CUDA error e in messages: its text, its name, and the sticky note. */
#define JFA_CUDA_ERR_FMT "%s (%s)%s"
#define JFA_CUDA_ERR_ARGS(e) cudaGetErrorString(e), cudaGetErrorName(e), JFA_CUDA_STICKY_NOTE(e)

/* On failure the runtime's last error is read (and so cleared, where the error is not sticky): a later call's
   launch check (cudaGetLastError) must not report this one's failure. */
#define JFA_CUDA_CHECK(call)                                                                   \
  do {                                                                                         \
    cudaError_t jfa_e_ = (call);                                                               \
    if (jfa_e_ != cudaSuccess) {                                                               \
      (void)cudaGetLastError();                                                                \
      return jfa_set_error(JFA_ERROR_CUDA, __FILE__, __LINE__, "%s failed: " JFA_CUDA_ERR_FMT,   \
                           #call, JFA_CUDA_ERR_ARGS(jfa_e_));                                  \
    }                                                                                          \
  } while (0)

#define JFA_NCCL_CHECK(call)                                                           \
  do {                                                                                 \
    ncclResult_t jfa_r_ = (call);                                                      \
    if (jfa_r_ != ncclSuccess && jfa_r_ != ncclInProgress)                             \
      return jfa_set_error(JFA_ERROR_NCCL, __FILE__, __LINE__, "%s failed: %s", #call, \
                           ncclGetErrorString(jfa_r_));                                \
  } while (0)

#define JFA_MPI_CHECK(call)                                                            \
  do {                                                                                 \
    int jfa_m_ = (call);                                                               \
    if (jfa_m_ != MPI_SUCCESS) {                                                       \
      char jfa_mb_[MPI_MAX_ERROR_STRING];                                              \
      int jfa_ml_ = 0;                                                                 \
      MPI_Error_string(jfa_m_, jfa_mb_, &jfa_ml_);                                     \
      return jfa_set_error(JFA_ERROR_MPI, __FILE__, __LINE__, "%s failed: %s", #call,  \
                           jfa_mb_);                                                   \
    }                                                                                  \
  } while (0)

#endif /* JFA_CORE_CHECK_H_ */
