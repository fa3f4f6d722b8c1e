/*
 * status.c - version, status names, dtype sizes and the per-thread last-error
 * message (jfa_set_error / jfa_error_trace of check.h, jfa_get_last_error of jfa.h).
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/check.h"

#define JFA_ERROR_BUFFER 1024

static _Thread_local char jfa_last_error[JFA_ERROR_BUFFER];

/* The file name without its directories: messages stay short and readable. */
static const char *jfa_basename(const char *file) {
  const char *slash = file ? strrchr(file, '/') : NULL;
  return slash ? slash + 1 : (file ? file : "?");
}

int jfa_version(void) { return JFA_VERSION; }

const char *jfa_status_string(jfa_status_t status) {
  switch (status) {
    case JFA_SUCCESS: return "JFA_SUCCESS: no error";
    case JFA_ERROR_INVALID_ARGUMENT: return "JFA_ERROR_INVALID_ARGUMENT: an argument is invalid";
    case JFA_ERROR_UNSUPPORTED: return "JFA_ERROR_UNSUPPORTED: not supported by this build or backend";
    case JFA_ERROR_CUDA: return "JFA_ERROR_CUDA: a CUDA call failed";
    case JFA_ERROR_NCCL: return "JFA_ERROR_NCCL: an NCCL call failed";
    case JFA_ERROR_MPI: return "JFA_ERROR_MPI: an MPI call failed";
    case JFA_ERROR_OUT_OF_MEMORY: return "JFA_ERROR_OUT_OF_MEMORY: an allocation failed";
    case JFA_ERROR_INTERNAL: return "JFA_ERROR_INTERNAL: internal error";
    case JFA_ERROR_ABI_MISMATCH: return "JFA_ERROR_ABI_MISMATCH: a struct's layout is not one this library knows";
    default: return "JFA_ERROR_UNKNOWN: unknown status code";
  }
}

const char *jfa_get_last_error(void) { return jfa_last_error; }

size_t jfa_dtype_size(jfa_dtype_t dtype) {
  switch (dtype) {
    case JFA_DTYPE_FLOAT64: return 8;
    case JFA_DTYPE_FLOAT32: return 4;
    case JFA_DTYPE_FLOAT16: return 2;
    case JFA_DTYPE_BFLOAT16: return 2;
    case JFA_DTYPE_BOOL: return 1;
  }
  return 0;
}

jfa_status_t jfa_set_error(jfa_status_t status, const char *file, int line, const char *fmt, ...) {
  int n = snprintf(jfa_last_error, sizeof jfa_last_error, "%s:%d: ", jfa_basename(file), line);
  if (n < 0 || (size_t)n >= sizeof jfa_last_error) return status;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(jfa_last_error + n, sizeof jfa_last_error - (size_t)n, fmt, ap);
  va_end(ap);
  return status;
}

void jfa_error_trace(const char *file, int line) {
  char frame[128];
  int n = snprintf(frame, sizeof frame, " <- %s:%d", jfa_basename(file), line);
  size_t len = strlen(jfa_last_error);
  /* bounded: a frame that does not fit whole is dropped */
  if (n > 0 && len + (size_t)n < sizeof jfa_last_error) memcpy(jfa_last_error + len, frame, (size_t)n + 1);
}

const char *jfa_dtype_name(jfa_dtype_t dtype) {
  switch (dtype) {
    case JFA_DTYPE_FLOAT64: return "float64";
    case JFA_DTYPE_FLOAT32: return "float32";
    case JFA_DTYPE_FLOAT16: return "float16";
    case JFA_DTYPE_BFLOAT16: return "bfloat16";
    case JFA_DTYPE_BOOL: return "bool";
  }
  return "unknown";
}
