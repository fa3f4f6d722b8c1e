/*
 * app_fill_nocuda.c - the device functions in a build without CUDA: there is no device.
 */
#include "app.h"

int app_fill_cuda(void *data, jfa_dtype_t dt, int t, uint64_t seed, int64_t B, int64_t H, int64_t n, int64_t D,
                  const app_rows_t *rows) {
  (void)data, (void)dt, (void)t, (void)seed, (void)B, (void)H, (void)n, (void)D, (void)rows;
  return -1;
}

void *app_malloc_cuda(size_t bytes) {
  (void)bytes;
  return NULL;
}

void app_free_cuda(void *p) { (void)p; }

int app_memcpy_cuda(void *dst, const void *src, size_t bytes, int to_host) {
  (void)dst, (void)src, (void)bytes, (void)to_host;
  return -1;
}

int app_memset_cuda(void *dst, int byte, size_t bytes) {
  (void)dst, (void)byte, (void)bytes;
  return -1;
}
