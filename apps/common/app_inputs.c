/*
 * app_inputs.c - the programs' deterministic inputs: element (b, h, position, d)
 * of input tensor t is a hash of (seed, t, b, h, position, d) mapped to a uniform
 * value of unit variance and rounded to the dtype (jfa_convert_host's rounding).
 * So any rank (or the check) recomputes any value from its global position. Host
 * tensors are filled by threads; device tensors by the kernel of app_fill_cuda.cu,
 * which computes the same bits.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "app.h"

uint64_t app_mix64(uint64_t z) {
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

uint64_t app_key(uint64_t seed, int t, int64_t b, int64_t h) {
  uint64_t k = seed * 0x9E3779B97F4A7C15ull;
  k = app_mix64(k ^ (uint64_t)t);
  k = app_mix64(k ^ (uint64_t)b);
  return app_mix64(k ^ (uint64_t)h);
}

double app_raw(uint64_t key, int64_t pos, int64_t d) {
  uint64_t k = app_mix64(app_mix64(key ^ (uint64_t)pos) ^ (uint64_t)d);
  return ((double)(k >> 11) * (1.0 / 9007199254740992.0) * 2.0 - 1.0) * 1.7320508075688772;
}

void app_row(uint64_t seed, int t, int64_t b, int64_t h, int64_t pos, int64_t D, jfa_dtype_t dt, double *out) {
  const uint64_t key = app_key(seed, t, b, h);
  for (int64_t d = 0; d < D; ++d) out[d] = app_raw(key, pos, d);
  if (dt != JFA_DTYPE_FLOAT64) { /* round through the dtype's storage, 256 values at a time */
    unsigned char tmp[256 * 8];
    for (int64_t d = 0; d < D; d += 256) {
      size_t m = (size_t)(D - d < 256 ? D - d : 256);
      jfa_convert_host(out + d, JFA_DTYPE_FLOAT64, tmp, dt, m);
      jfa_convert_host(tmp, dt, out + d, JFA_DTYPE_FLOAT64, m);
    }
  }
}

typedef struct {
  void *data;
  jfa_dtype_t dt;
  int t;
  uint64_t seed;
  int64_t B, H, n, D;
  const app_rows_t *rows;
  int64_t r0, r1; /* rows (b, h, l) flattened */
} fill_job_t;

static void *fill_worker(void *arg) {
  const fill_job_t *j = (const fill_job_t *)arg;
  const size_t es = jfa_dtype_size(j->dt);
  double *row = (double *)malloc((size_t)j->D * sizeof(double));
  if (!row) return (void *)1;
  uint64_t key = 0;
  int64_t key_bh = -1;
  for (int64_t r = j->r0; r < j->r1; ++r) {
    const int64_t bh = r / j->n, l = r % j->n;
    if (bh != key_bh) key = app_key(j->seed, j->t, bh / j->H, bh % j->H), key_bh = bh;
    const int64_t pos = j->rows->pos0[l / j->rows->chunk] + l % j->rows->chunk;
    for (int64_t d = 0; d < j->D; ++d) row[d] = app_raw(key, pos, d);
    jfa_convert_host(row, JFA_DTYPE_FLOAT64, (char *)j->data + (size_t)r * (size_t)j->D * es, j->dt, (size_t)j->D);
  }
  free(row);
  return NULL;
}

int app_fill(void *data, jfa_device_t dev, jfa_dtype_t dt, int t, uint64_t seed, int64_t B, int64_t H, int64_t n,
             int64_t D, const app_rows_t *rows, int threads) {
  if (dev == JFA_DEVICE_CUDA) return app_fill_cuda(data, dt, t, seed, B, H, n, D, rows);
  const int64_t total = B * H * n;
  if (threads < 1) threads = 1;
  if (total < (int64_t)threads * 64) threads = 1; /* small: no threads */
  fill_job_t *jobs = (fill_job_t *)calloc((size_t)threads, sizeof(fill_job_t));
  pthread_t *tid = (pthread_t *)calloc((size_t)threads, sizeof(pthread_t));
  int rc = jobs && tid ? 0 : -1;
  int started = 0;
  for (int w = 0; w < threads && !rc; ++w) {
    fill_job_t j = {data, dt, t, seed, B, H, n, D, rows, total * w / threads, total * (w + 1) / threads};
    jobs[w] = j;
    if (threads == 1) rc = fill_worker(&jobs[w]) ? -1 : 0;
    else if (pthread_create(&tid[w], NULL, fill_worker, &jobs[w])) rc = -1;
    else ++started;
  }
  for (int w = 0; w < started; ++w) {
    void *ret = NULL;
    pthread_join(tid[w], &ret);
    if (ret) rc = -1;
  }
  free(jobs);
  free(tid);
  return rc;
}
