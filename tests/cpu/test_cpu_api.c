/*
 * test_cpu_api.c - the small parts of the public API: version, status strings,
 * dtype sizes, tensor constructors (BHSD/BSHD strides, numel), context getters and
 * setters, the last-error message (file:line prefix, bounded trace), and that CPU
 * results are bitwise identical for 1 and several threads; the backend's convert
 * and fill (strided, float64/float32) and its refusal of float16 on the CPU.
 *
 * Run: ctest --test-dir build -R test_cpu_api
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/backend.h"
#include "core/check.h"
#include "cpu_test.h"

static void test_basics(void) {
  tu_expect("jfa_version() == JFA_VERSION", jfa_version() == JFA_VERSION);
  int named = 1;
  for (int s = 0; s < JFA_NUM_STATUS; ++s) named &= strncmp(jfa_status_string((jfa_status_t)s), "JFA_", 4) == 0;
  tu_expect("every status has a JFA_ name", named);
  tu_expect("status string of INVALID_ARGUMENT",
            strstr(jfa_status_string(JFA_ERROR_INVALID_ARGUMENT), "INVALID_ARGUMENT") != NULL);
  tu_expect("unknown status has a string", jfa_status_string((jfa_status_t)99) != NULL);
  tu_expect("dtype sizes 8 4 2 2 0",
            jfa_dtype_size(JFA_DTYPE_FLOAT64) == 8 && jfa_dtype_size(JFA_DTYPE_FLOAT32) == 4 &&
                jfa_dtype_size(JFA_DTYPE_FLOAT16) == 2 && jfa_dtype_size(JFA_DTYPE_BFLOAT16) == 2 &&
                jfa_dtype_size((jfa_dtype_t)9) == 0);

  int x;
  jfa_tensor_t a = jfa_tensor_bhsd(&x, JFA_DTYPE_FLOAT32, JFA_DEVICE_CPU, 2, 3, 5, 7);
  tu_expect("bhsd shape and strides", a.shape[0] == 2 && a.shape[1] == 3 && a.shape[2] == 5 && a.shape[3] == 7 &&
                                          a.stride[0] == 105 && a.stride[1] == 35 && a.stride[2] == 7 &&
                                          a.stride[3] == 1 && a.data == &x && a.dtype == JFA_DTYPE_FLOAT32);
  jfa_tensor_t b = jfa_tensor_bshd(&x, JFA_DTYPE_FLOAT64, JFA_DEVICE_CUDA, 2, 5, 3, 7); /* (B, S, H, D) args */
  tu_expect("bshd viewed as (B,H,S,D): stride {S*H*D, D, H*D, 1}",
            b.shape[0] == 2 && b.shape[1] == 3 && b.shape[2] == 5 && b.shape[3] == 7 && b.stride[0] == 105 &&
                b.stride[1] == 7 && b.stride[2] == 21 && b.stride[3] == 1 && b.device == JFA_DEVICE_CUDA);
  tu_expect("numel", jfa_tensor_numel(&a) == 210 && jfa_tensor_numel(NULL) == 0);
}

static void test_errors(void) {
  jfa_status_t s = jfa_set_error(JFA_ERROR_INTERNAL, "/some/dir/file.c", 42, "value %d", 7);
  tu_expect("set_error returns its status", s == JFA_ERROR_INTERNAL);
  tu_expect("message is \"file.c:42: value 7\"", strcmp(jfa_get_last_error(), "file.c:42: value 7") == 0);
  jfa_error_trace("/x/api.c", 9);
  tu_expect("trace appends \" <- api.c:9\"", strcmp(jfa_get_last_error(), "file.c:42: value 7 <- api.c:9") == 0);
  char big[4000];
  memset(big, 'a', sizeof big - 1);
  big[sizeof big - 1] = 0;
  jfa_set_error(JFA_ERROR_INTERNAL, "f.c", 1, "%s", big);
  for (int i = 0; i < 100; ++i) jfa_error_trace("g.c", i);
  size_t n = strlen(jfa_get_last_error());
  tu_expect("long message and many traces stay bounded", n > 100 && n < 4000);
  jfa_set_error(JFA_ERROR_INTERNAL, "f.c", 1, "short");
  for (int i = 0; i < 1000; ++i) jfa_error_trace("g.c", i);
  n = strlen(jfa_get_last_error());
  tu_expect("a thousand traces stay bounded", n > 100 && n < 4000);
}

static void test_context(void) {
  jfa_context_t *ctx = NULL;
  int ok = jfa_context_create(&ctx, JFA_DEVICE_CPU, 3) == JFA_SUCCESS;
  jfa_device_t dev = JFA_DEVICE_CUDA;
  int idx = -1;
  void *stream = (void *)&ok;
  ok &= jfa_context_get_device(ctx, &dev, &idx) == JFA_SUCCESS && dev == JFA_DEVICE_CPU && idx == 0;
  ok &= jfa_context_get_stream(ctx, &stream) == JFA_SUCCESS && stream == NULL;
  ok &= jfa_context_set_stream(ctx, NULL) == JFA_SUCCESS;
  ok &= jfa_context_set_flags(ctx, JFA_FLAG_DETERMINISTIC | JFA_FLAG_ALLOW_TF32) == JFA_SUCCESS;
  ok &= jfa_context_set_num_threads(ctx, 1) == JFA_SUCCESS;
  ok &= jfa_context_synchronize(ctx) == JFA_SUCCESS;
  ok &= jfa_context_destroy(ctx) == JFA_SUCCESS;
  tu_expect("CPU context: create, getters, setters, synchronize, destroy", ok);
  int count = -1, avail = jfa_cuda_available(&count);
  tu_expect("jfa_cuda_available agrees with its count", (avail == 1) == (count > 0) && count >= 0);
  tu_expect("jfa_cuda_available(NULL) does not crash", jfa_cuda_available(NULL) == avail);
}

/* The CPU backend is deterministic: 1 thread and several threads give identical bits. */
static void test_threads(void) {
  const int64_t B = 2, Hq = 4, Hkv = 2, N = 300, D = 32;
  tbuf_t in[7], out[2][7];
  for (int i = 0; i < 7; ++i) {
    int kv = i == 1 || i == 2 || i == 4 || i == 5;
    in[i] = tb_new(JFA_DTYPE_FLOAT64, 0, B, kv ? Hkv : Hq, N, D);
    tb_random(&in[i], 1.0);
  }
  jfa_attention_params_t prm;
  jfa_attention_params_init(&prm);
  prm.mask = JFA_MASK_CAUSAL_TOP_LEFT;
  int ok = 1;
  for (int r = 0; r < 2; ++r) {
    jfa_context_t *ctx;
    ok &= jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) == JFA_SUCCESS;
    ok &= jfa_context_set_num_threads(ctx, r == 0 ? 1 : 3) == JFA_SUCCESS;
    for (int i = 0; i < 7; ++i) {
      int kv = i == 5 || i == 6, stat = i == 1 || i == 3;
      out[r][i] = tb_new(JFA_DTYPE_FLOAT64, 0, B, kv ? Hkv : Hq, N, stat ? 1 : D);
    }
    ok &= jfa_attention_forward_jvp(ctx, &prm, &in[0].t, &in[1].t, &in[2].t, &in[3].t, &in[4].t, &in[5].t,
                                    &out[r][0].t, &out[r][1].t, &out[r][2].t, &out[r][3].t) == JFA_SUCCESS;
    ok &= jfa_attention_backward(ctx, &prm, &in[0].t, &in[1].t, &in[2].t, &out[r][0].t, &out[r][1].t, &in[6].t,
                                 &out[r][4].t, &out[r][5].t, &out[r][6].t) == JFA_SUCCESS;
    jfa_context_destroy(ctx);
  }
  int same = 1;
  for (int i = 0; i < 7; ++i)
    same &= memcmp(out[0][i].t.data, out[1][i].t.data, out[0][i].n * sizeof(double)) == 0;
  tu_expect("calls succeed with 1 and 3 threads", ok);
  tu_expect("1 thread and 3 threads give bitwise identical O, lse, Od, mu, dQ, dK, dV", same);
  for (int i = 0; i < 7; ++i) tb_free(&in[i]), tb_free(&out[0][i]), tb_free(&out[1][i]);
}

/* jfa_backend_convert / jfa_backend_fill on the CPU: strided, float64 <-> float32. */
static void test_convert_fill(void) {
  jfa_context_t *ctx;
  if (jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) return;
  tbuf_t a = tb_new(JFA_DTYPE_FLOAT64, 0, 2, 3, 5, 7), b = tb_new(JFA_DTYPE_FLOAT32, 1, 2, 3, 5, 7),
         c = tb_new(JFA_DTYPE_FLOAT64, 1, 2, 3, 5, 7);
  tb_random(&a, 1.0);
  int ok = jfa_backend_convert(ctx, &a.t, &b.t) == JFA_SUCCESS && jfa_backend_convert(ctx, &b.t, &c.t) == JFA_SUCCESS;
  tb_get(&b), tb_get(&c);
  double err = 0.0;
  for (size_t i = 0; i < a.n; ++i) err = fmax(err, fabs(c.val[i] - (double)(float)a.val[i]) + fabs(b.val[i] - c.val[i]));
  tu_expect("convert f64 BHSD -> f32 BSHD -> f64 BSHD rounds exactly to float32", ok && err == 0.0);
  ok = jfa_backend_fill(ctx, &b.t, -INFINITY) == JFA_SUCCESS;
  tb_get(&b);
  for (size_t i = 0; i < b.n; ++i) ok &= b.val[i] == -INFINITY;
  tu_expect("fill -inf writes every element", ok);
  jfa_tensor_t h = a.t;
  h.dtype = JFA_DTYPE_FLOAT16;
  tu_expect("CPU backend refuses float16 (convert) with UNSUPPORTED",
            jfa_backend_convert(ctx, &h, &c.t) == JFA_ERROR_UNSUPPORTED);
  jfa_problem_t p;
  memset(&p, 0, sizeof p);
  p.B = 2, p.Hq = 3, p.Hkv = 3, p.Nq = 5, p.Nk = 5, p.D = 7, p.scale = 0.5;
  tu_expect("CPU backend refuses bfloat16 (attention_block) with UNSUPPORTED",
            (h.dtype = JFA_DTYPE_BFLOAT16,
             jfa_backend_attention_block(ctx, &p, &h, &h, &h, NULL, NULL, NULL, &c.t, NULL, NULL, NULL, 0)) ==
                JFA_ERROR_UNSUPPORTED);
  tb_free(&a), tb_free(&b), tb_free(&c);
  jfa_context_destroy(ctx);
}

int main(void) {
  tu_init_seed("test_cpu_api");
  test_convert_fill();
  test_basics();
  test_errors();
  test_context();
  test_threads();
  return tu_finish();
}
