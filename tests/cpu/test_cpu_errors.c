/*
 * test_cpu_errors.c - every bad input returns its status with a message naming the
 * argument, and leaves every output bitwise untouched (poisoned before, compared
 * after). Covers NULLs, shapes, head dims, GQA divisibility, dtypes, devices,
 * strides, aliasing, params (scale bounds, flags, layout tags), merge arguments and
 * contexts; a final valid call shows the unmodified set-up was itself valid. Then the
 * checked products of jfa_tensor_numel/bhsd/bshd, an interleaved but distinct output
 * layout, and the output-overlap decision against brute force on random layouts.
 *
 * Run: ctest --test-dir build -R test_cpu_errors
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cpu_test.h"

enum { Q, K, V, QD, KD, VD, O, LSE, OD, MU, DOUT, DQ, DK, DV, OA, LA, ODA, MUA, OP, LP, ODP, MP, NT };
static const int is_output[NT] = {0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 0, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0};
static tbuf_t buf[NT];
static unsigned char *snap[NT];
static jfa_context_t *ctx;

static size_t bytes(int i) { return buf[i].n * jfa_dtype_size(buf[i].t.dtype); }

static void setup(void) {
  const int64_t B = 1, Hq = 4, Hkv = 2, Nq = 5, Nk = 6, D = 3;
  for (int i = 0; i < NT; ++i) {
    int kv = i == K || i == V || i == KD || i == VD || i == DK || i == DV;
    int stat = i == LSE || i == MU || i == LA || i == MUA || i == LP || i == MP;
    buf[i] = tb_new(JFA_DTYPE_FLOAT64, 0, B, kv ? Hkv : Hq, kv ? Nk : Nq, stat ? 1 : D);
    if (is_output[i]) tb_poison(&buf[i]);
    else tb_random(&buf[i], 1.0);
    snap[i] = (unsigned char *)malloc(bytes(i));
    memcpy(snap[i], buf[i].t.data, bytes(i));
  }
}

/* All outputs (and, for merge, accumulators) still hold their poison, bit for bit. */
static int untouched(void) {
  for (int i = 0; i < NT; ++i)
    if (memcmp(snap[i], buf[i].t.data, bytes(i)) != 0) return 0;
  return 1;
}

/* Whether msg names arg as a word: preceded by ' ' or '>' (params->x), followed by ':' or ' '. */
static int names_arg(const char *msg, const char *arg) {
  size_t n = strlen(arg);
  for (const char *m = strstr(msg, arg); m; m = strstr(m + 1, arg))
    if (m > msg && (m[-1] == ' ' || m[-1] == '>') && (m[n] == ':' || m[n] == ' ')) return 1;
  return 0;
}

static void expect(const char *what, jfa_status_t got, jfa_status_t want, const char *arg) {
  char label[512];
  const char *msg = jfa_get_last_error();
  int named = names_arg(msg, arg);
  snprintf(label, sizeof label, "%s -> %s, message names '%s', outputs untouched (got %d: \"%s\")", what,
           jfa_status_string(want), arg, (int)got, msg);
  tu_expect(label, got == want && named && untouched());
}

/* Working copies: each case edits copies t[...] of the valid tensors. */
static jfa_tensor_t t[NT];
static jfa_attention_params_t prm;
static void reset(void) {
  for (int i = 0; i < NT; ++i) t[i] = buf[i].t;
  jfa_attention_params_init(&prm);
  prm.mask = JFA_MASK_CAUSAL_BOTTOM_RIGHT;
}
static jfa_status_t call_jvp(void) {
  return jfa_attention_forward_jvp(ctx, &prm, &t[Q], &t[K], &t[V], &t[QD], &t[KD], &t[VD], &t[O], &t[LSE], &t[OD],
                                   &t[MU]);
}
static jfa_status_t call_fwd(void) { return jfa_attention_forward(ctx, &prm, &t[Q], &t[K], &t[V], &t[O], &t[LSE]); }
static jfa_status_t call_bwd(void) {
  return jfa_attention_backward(ctx, &prm, &t[Q], &t[K], &t[V], &t[O], &t[LSE], &t[DOUT], &t[DQ], &t[DK], &t[DV]);
}
static jfa_status_t call_merge(void) {
  return jfa_attention_merge(ctx, &t[OA], &t[LA], &t[ODA], &t[MUA], &t[OP], &t[LP], &t[ODP], &t[MP]);
}

/* Every working tensor viewed with batch 2 (stride 0: the storage holds batch 1). */
static void batch2(void) {
  for (int i = 0; i < NT; ++i) t[i].shape[0] = 2, t[i].stride[0] = 0;
}

#define INV JFA_ERROR_INVALID_ARGUMENT
#define CASE(what, edit, call, want, arg) \
  do {                                    \
    reset();                              \
    edit;                                 \
    expect(what, call, want, arg);        \
  } while (0)

/* jfa_tensor_numel, jfa_tensor_bhsd and jfa_tensor_bshd: checked products, no UB. */
static void checked_products(void) {
  const int64_t T40 = (int64_t)1 << 40, T31 = (int64_t)1 << 31;
  double x;
  jfa_tensor_t a = jfa_tensor_bhsd(&x, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, T40, T40, 2, 2);
  tu_expect("bhsd (2^40, 2^40, 2, 2): strides 0 and a message", a.stride[0] == 0 && a.stride[1] == 0 &&
                                                                    a.stride[2] == 0 && a.stride[3] == 0 &&
                                                                    strstr(jfa_get_last_error(), "jfa_tensor_bhsd"));
  tu_expect("numel (2^40, 2^40, 2, 2) = -1 with a message",
            jfa_tensor_numel(&a) == -1 && strstr(jfa_get_last_error(), "more elements than int64"));
  jfa_tensor_t b = jfa_tensor_bshd(&x, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, 2, T31, T31, 2);
  tu_expect("bshd (2, 2^31, 2^31, 2): strides 0 (2^64 elements)", b.stride[0] == 0 && b.stride[2] == 0 &&
                                                                      jfa_tensor_numel(&b) == -1);
  jfa_tensor_t c = jfa_tensor_bshd(&x, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, 1, T31, T31, 1);
  tu_expect("bshd (1, 2^31, 2^31, 1): 2^62 elements, strides (2^62, 1, 2^31, 1)",
            jfa_tensor_numel(&c) == (int64_t)1 << 62 && c.stride[0] == (int64_t)1 << 62 && c.stride[1] == 1 &&
                c.stride[2] == T31 && c.stride[3] == 1);
  jfa_tensor_t d = jfa_tensor_bhsd(&x, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, 3, -1, 2, 2);
  tu_expect("bhsd with a negative size: strides 0, numel -1", d.stride[0] == 0 && jfa_tensor_numel(&d) == -1);
  jfa_tensor_t e = jfa_tensor_bhsd(&x, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, 0, T40, T40, T40);
  tu_expect("numel with a zero size is 0 (no overflow from the others)", jfa_tensor_numel(&e) == 0);
  /* a zero after entries whose partial product overflows: still 0 (jfa.h: 0 when an entry is 0) */
  jfa_tensor_t z = e;
  z.shape[0] = T40, z.shape[1] = T40, z.shape[2] = 0, z.shape[3] = 2;
  tu_expect("numel (2^40, 2^40, 0, 2) is 0, not -1", jfa_tensor_numel(&z) == 0);
  double o1 = NAN;
  jfa_tensor_t o = jfa_tensor_bhsd(&o1, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, 1, 1, 1, 1);
  jfa_status_t st = jfa_attention_forward(ctx, NULL, &a, &a, &a, &o, NULL);
  char label[512];
  snprintf(label, sizeof label, "a call with the overflowing view: refused naming q, o untouched (%s)",
           jfa_get_last_error());
  tu_expect(label, st == INV && names_arg(jfa_get_last_error(), "q") && isnan(o1));
}

/* The layout: o (2, 2, 3, 5) at strides (87, 42, 1, 13), interleaved but distinct. */
static void interleaved_output(void) {
  tbuf_t q = tb_new(JFA_DTYPE_FLOAT64, 0, 2, 2, 3, 5), k = tb_new(JFA_DTYPE_FLOAT64, 0, 2, 2, 4, 5),
         v = tb_new(JFA_DTYPE_FLOAT64, 0, 2, 2, 4, 5), o = tb_new(JFA_DTYPE_FLOAT64, 0, 2, 2, 3, 5);
  tb_random(&q, 1.0), tb_random(&k, 1.0), tb_random(&v, 1.0), tb_poison(&o);
  const size_t span = 87 + 42 + 2 + 13 * 4 + 1;
  double *mem = (double *)malloc(span * sizeof(double));
  for (size_t i = 0; i < span; ++i) mem[i] = NAN;
  jfa_tensor_t ov = o.t;
  ov.data = mem;
  ov.stride[0] = 87, ov.stride[1] = 42, ov.stride[2] = 1, ov.stride[3] = 13;
  jfa_status_t s1 = jfa_attention_forward(ctx, NULL, &q.t, &k.t, &v.t, &ov, NULL);
  jfa_status_t s2 = jfa_attention_forward(ctx, NULL, &q.t, &k.t, &v.t, &o.t, NULL);
  tb_get(&o);
  double *got = (double *)malloc(o.n * sizeof(double));
  tu_gather(&ov, got);
  size_t written = 0;
  for (size_t i = 0; i < span; ++i) written += !isnan(mem[i]);
  char label[512];
  snprintf(label, sizeof label, "o at strides (87, 42, 1, 13) over (2, 2, 3, 5) accepted, equal to a dense o, "
           "exactly its 60 elements written (%s; %zu written)", s1 ? jfa_get_last_error() : "ok", written);
  tu_expect(label, s1 == JFA_SUCCESS && s2 == JFA_SUCCESS && tu_rel_err(got, o.val, o.n) == 0.0 && written == 60);
  free(mem), free(got);
  tb_free(&q), tb_free(&k), tb_free(&v), tb_free(&o);
}

/* Random small output layouts: the library's overlap decision equals a brute-force one. */
static void overlap_against_brute_force(void) {
  int agree = 0, total = 0, accepted = 0, refused = 0, exact = 0, exact_overlap = 0;
  double qv[64], kv[64], vv[64];
  for (int i = 0; i < 64; ++i) qv[i] = tu_normal(), kv[i] = tu_normal(), vv[i] = tu_normal();
  for (int trial = 0; trial < 600; ++trial) {
    int64_t sh[4], st[4];
    for (int d = 0; d < 4; ++d) {
      sh[d] = 1 + (int64_t)(tu_uniform() * (d == 0 ? 2 : 4));
      st[d] = (int64_t)(tu_uniform() * 14);
    }
    int64_t numel = sh[0] * sh[1] * sh[2] * sh[3], span = 1;
    for (int d = 0; d < 4; ++d) span += (sh[d] - 1) * st[d];
    if (numel > 64) continue;
    /* brute force: mark every offset */
    unsigned char *hit = (unsigned char *)calloc((size_t)span, 1);
    int overlap = 0;
    for (int64_t a = 0; a < sh[0]; ++a)
      for (int64_t b = 0; b < sh[1]; ++b)
        for (int64_t c = 0; c < sh[2]; ++c)
          for (int64_t e = 0; e < sh[3]; ++e) {
            int64_t off = a * st[0] + b * st[1] + c * st[2] + e * st[3];
            overlap |= hit[off];
            hit[off] = 1;
          }
    free(hit);
    { /* does this layout need the exact test (no zero stride, not nested, span >= numel)? */
      int64_t ss[4], se[4], nn = 0, sp = 0, zero = 0, nested = 1;
      for (int d = 0; d < 4; ++d)
        if (sh[d] > 1) zero |= st[d] == 0, ss[nn] = st[d], se[nn++] = sh[d];
      for (int64_t i = 1; i < nn; ++i)
        for (int64_t j = i; j > 0 && ss[j] < ss[j - 1]; --j) {
          int64_t a = ss[j], b = se[j];
          ss[j] = ss[j - 1], se[j] = se[j - 1], ss[j - 1] = a, se[j - 1] = b;
        }
      for (int64_t i = 0; i < nn; ++i) nested &= ss[i] > sp, sp += ss[i] * (se[i] - 1);
      exact += !zero && !nested && sp + 1 >= numel;
      exact_overlap += !zero && !nested && sp + 1 >= numel && overlap;
    }
    jfa_tensor_t q = jfa_tensor_bhsd(qv, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, sh[0], sh[1], sh[2], sh[3]);
    double *om = (double *)malloc((size_t)span * sizeof(double));
    jfa_tensor_t o = q;
    o.data = om;
    memcpy(o.stride, st, sizeof st);
    jfa_tensor_t k = q, v = q;
    k.data = kv, v.data = vv;
    jfa_status_t s = jfa_attention_forward(ctx, NULL, &q, &k, &v, &o, NULL);
    int lib_overlap = s == INV && names_arg(jfa_get_last_error(), "o") &&
                      (strstr(jfa_get_last_error(), "overlap") || strstr(jfa_get_last_error(), "= 0 on an axis"));
    int lib_ok = s == JFA_SUCCESS;
    agree += (lib_ok && !overlap) || (lib_overlap && overlap);
    accepted += lib_ok, refused += lib_overlap;
    ++total;
    if (!((lib_ok && !overlap) || (lib_overlap && overlap)))
      printf("  disagree: shape (%lld,%lld,%lld,%lld) strides (%lld,%lld,%lld,%lld): brute force %s, jfa %d (%s)\n",
             (long long)sh[0], (long long)sh[1], (long long)sh[2], (long long)sh[3], (long long)st[0],
             (long long)st[1], (long long)st[2], (long long)st[3], overlap ? "overlap" : "distinct", (int)s,
             jfa_get_last_error());
    free(om);
  }
  char label[256];
  snprintf(label, sizeof label,
           "output overlap decision equals brute force on %d random layouts (%d accepted, %d refused; %d decided by "
           "the exact test, %d of them overlapping)",
           total, accepted, refused, exact, exact_overlap);
  tu_expect(label, agree == total && accepted > 50 && refused > 50 && exact_overlap > 10 && exact - exact_overlap > 10);
}

int main(void) {
  tu_init_seed("test_cpu_errors");
  if (jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) return 1;
  setup();
  jfa_attention_params_t *pp = &prm;

  /* NULLs */
  CASE("NULL ctx", (void)0,
       jfa_attention_forward(NULL, pp, &t[Q], &t[K], &t[V], &t[O], &t[LSE]), INV, "ctx");
  CASE("NULL q", (void)0, jfa_attention_forward(ctx, pp, NULL, &t[K], &t[V], &t[O], &t[LSE]), INV, "q");
  CASE("NULL o", (void)0, jfa_attention_forward(ctx, pp, &t[Q], &t[K], &t[V], NULL, &t[LSE]), INV, "o");
  CASE("NULL k data", t[K].data = NULL, call_fwd(), INV, "k");
  /* element alignment (a float64 read through a misaligned pointer is undefined behaviour; on a GPU a sticky error) */
  CASE("q data 1 byte past a float64 boundary", t[Q].data = (char *)t[Q].data + 1, call_fwd(), INV, "q");
  CASE("o data 4 bytes past a float64 boundary", t[O].data = (char *)t[O].data + 4, call_fwd(), INV, "o");
  CASE("lse data 2 bytes past a float64 boundary", t[LSE].data = (char *)t[LSE].data + 2, call_jvp(), INV, "lse");
  CASE("NULL od in the JVP", (void)0,
       jfa_attention_forward_jvp(ctx, pp, &t[Q], &t[K], &t[V], &t[QD], &t[KD], &t[VD], &t[O], &t[LSE], NULL, &t[MU]),
       INV, "od");
  CASE("NULL vd in the JVP", (void)0,
       jfa_attention_forward_jvp(ctx, pp, &t[Q], &t[K], &t[V], &t[QD], &t[KD], NULL, &t[O], &t[LSE], &t[OD], &t[MU]),
       INV, "vd");
  CASE("NULL dout", (void)0,
       jfa_attention_backward(ctx, pp, &t[Q], &t[K], &t[V], &t[O], &t[LSE], NULL, &t[DQ], &t[DK], &t[DV]), INV,
       "dout");
  CASE("NULL lse in the backward", (void)0,
       jfa_attention_backward(ctx, pp, &t[Q], &t[K], &t[V], &t[O], NULL, &t[DOUT], &t[DQ], &t[DK], &t[DV]), INV,
       "lse");

  /* shapes */
  CASE("q seq 0", t[Q].shape[2] = 0, call_jvp(), INV, "q");
  CASE("v negative dim", t[V].shape[3] = -3, call_jvp(), INV, "v");
  CASE("k head dim differs from q", (t[K].shape[3] = 2, t[V].shape[3] = 2), call_fwd(), INV, "k");
  CASE("v shape differs from k", t[V].shape[2] = 5, call_fwd(), INV, "v");
  CASE("k batch differs from q", (t[K].shape[0] = 2, t[V].shape[0] = 2), call_fwd(), INV, "k");
  CASE("Hq % Hkv != 0", (t[K].shape[1] = 3, t[V].shape[1] = 3), call_fwd(), INV, "k");
  CASE("o shape differs from q", t[O].shape[2] = 4, call_fwd(), INV, "o");
  CASE("lse last axis 2", t[LSE].shape[3] = 2, call_fwd(), INV, "lse");
  CASE("qd shape differs", t[QD].shape[2] = 4, call_jvp(), INV, "qd");
  CASE("mu shape differs", t[MU].shape[1] = 2, call_jvp(), INV, "mu");
  CASE("dk shape differs", t[DK].shape[2] = 5, call_bwd(), INV, "dk");
  CASE("dout shape differs", t[DOUT].shape[3] = 2, call_bwd(), INV, "dout");

  /* dtypes and devices */
  CASE("v float32 among float64", t[V].dtype = JFA_DTYPE_FLOAT32, call_fwd(), INV, "v");
  CASE("od float32 among float64", t[OD].dtype = JFA_DTYPE_FLOAT32, call_jvp(), INV, "od");
  CASE("dq float32 among float64", t[DQ].dtype = JFA_DTYPE_FLOAT32, call_bwd(), INV, "dq");
  CASE("lse float16", t[LSE].dtype = JFA_DTYPE_FLOAT16, call_fwd(), INV, "lse");
  CASE("unknown dtype", t[K].dtype = (jfa_dtype_t)99, call_fwd(), INV, "k");
  CASE("float16 on the CPU",
       for (int i = 0; i < NT; ++i) if (i != LSE && i != MU) t[i].dtype = JFA_DTYPE_FLOAT16,
       call_jvp(), JFA_ERROR_UNSUPPORTED, "q");
  CASE("bfloat16 on the CPU",
       for (int i = 0; i < NT; ++i) if (i != LSE) t[i].dtype = JFA_DTYPE_BFLOAT16,
       call_bwd(), JFA_ERROR_UNSUPPORTED, "q");
  CASE("bool data (a mask's dtype) on the CPU",
       for (int i = 0; i < NT; ++i) if (i != LSE && i != MU) t[i].dtype = JFA_DTYPE_BOOL,
       call_fwd(), INV, "q");
  CASE("q on CUDA with a CPU context", t[Q].device = JFA_DEVICE_CUDA, call_fwd(), INV, "q");
  CASE("dv on CUDA with a CPU context", t[DV].device = JFA_DEVICE_CUDA, call_bwd(), INV, "dv");

  /* strides and aliasing */
  CASE("negative stride", t[K].stride[2] = -3, call_fwd(), INV, "k");
  CASE("huge shape and stride (offsets overflow)", (t[V].shape[2] = (int64_t)1 << 39, t[V].stride[2] = (int64_t)1 << 39),
       call_fwd(), INV, "v");
  CASE("zero stride on an output", t[O].stride[2] = 0, call_fwd(), INV, "o");
  CASE("self-overlapping output strides", t[OD].stride[2] = 1, call_jvp(), INV, "od");
  /* o (1,4,5,3) at strides (_, 16, 1, 6): span 65 >= 60 elements, not nested, and 16 = 4 + 2*6 collides */
  CASE("output strides that collide beyond the quick tests", (t[O].stride[1] = 16, t[O].stride[2] = 1, t[O].stride[3] = 6),
       call_fwd(), INV, "o");
  CASE("params scale DBL_MAX", prm.scale = 1.7976931348623157e308, call_fwd(), INV, "scale");
  CASE("params scale -2^33", prm.scale = -8589934592.0, call_bwd(), INV, "scale");
  CASE("unknown params flags", prm.flags = 0x10, call_jvp(), INV, "flags");
  CASE("params of a newer layout version", prm.struct_tag = JFA_STRUCT_TAG(JFA_STRUCT_ATTENTION_PARAMS, 9), call_fwd(),
       JFA_ERROR_ABI_MISMATCH, "params");
  CASE("params of a wrong size", prm.struct_size += 8, call_bwd(), JFA_ERROR_ABI_MISMATCH, "params");
  CASE("output o is input q", t[O].data = t[Q].data, call_fwd(), INV, "o");
  CASE("output lse inside input v", t[LSE].data = (double *)t[V].data + 2, call_fwd(), INV, "lse");
  CASE("outputs od and o overlap", t[OD].data = t[O].data, call_jvp(), INV, "od");
  CASE("outputs mu and lse overlap", t[MU].data = t[LSE].data, call_jvp(), INV, "mu");
  CASE("output dk overlaps input k", t[DK].data = t[K].data, call_bwd(), INV, "dk");
  CASE("output dq overlaps input lse", t[DQ].data = t[LSE].data, call_bwd(), INV, "dq");
  CASE("outputs dv and dk overlap", t[DV].data = t[DK].data, call_bwd(), INV, "dv");

  /* params */
  CASE("scale NaN", prm.scale = NAN, call_fwd(), INV, "scale");
  CASE("scale inf", prm.scale = INFINITY, call_bwd(), INV, "scale");
  CASE("mask out of range", prm.mask = (jfa_mask_t)7, call_jvp(), INV, "mask");
  CASE("q_position out of range", (prm.mask = JFA_MASK_CAUSAL_POSITIONS, prm.q_position = INT64_MAX), call_fwd(),
       INV, "q_position");

  /* params of issue 9: windows, packed sequences, dense masks (setup: B=1, Hq=4, Nq=5, Nk=6) */
  static const int64_t cq_ok[] = {0, 2, 5}, ck_ok[] = {0, 3, 6}, cq_dec[] = {0, 4, 3, 5}, ck3[] = {0, 2, 4, 6},
                       cq_start[] = {0 + 1, 2, 5}, ck_end[] = {0, 3, 7};
  CASE("window_left -2", prm.window_left = -2, call_fwd(), INV, "window_left");
  CASE("window_right -5 (backward)", prm.window_right = -5, call_bwd(), INV, "window_right");
  CASE("cu_seqlens_q without cu_seqlens_k", (prm.cu_seqlens_q = cq_ok, prm.num_seqs = 2), call_fwd(), INV,
       "cu_seqlens_k");
  CASE("cu_seqlens_k without cu_seqlens_q", (prm.cu_seqlens_k = ck_ok, prm.num_seqs = 2), call_bwd(), INV,
       "cu_seqlens_q");
  CASE("num_seqs 0 with offsets", (prm.cu_seqlens_q = cq_ok, prm.cu_seqlens_k = ck_ok), call_jvp(), INV, "num_seqs");
  CASE("num_seqs 2 without offsets", prm.num_seqs = 2, call_fwd(), INV, "num_seqs");
  CASE("cu_seqlens_q decreasing",
       (prm.cu_seqlens_q = cq_dec, prm.cu_seqlens_k = ck3, prm.num_seqs = 3), call_fwd(), INV, "cu_seqlens_q[2]");
  CASE("cu_seqlens_q[0] != 0 (backward)",
       (prm.cu_seqlens_q = cq_start, prm.cu_seqlens_k = ck_ok, prm.num_seqs = 2), call_bwd(), INV, "cu_seqlens_q[0]");
  /* offsets stored inside an output (lse: 20 doubles of (1, 4, 5, 1); dq: its 4 x 5 x D, within the 4096), which the
     call would overwrite as it reads them */
  static double lse_cu[4096];
  for (int i = 0; i < 4096; ++i) lse_cu[i] = 1000.0;
  memcpy(lse_cu, cq_ok, sizeof cq_ok), memcpy(lse_cu + 4, ck_ok, sizeof ck_ok);
  CASE("cu_seqlens_q inside output lse",
       (prm.cu_seqlens_q = (const int64_t *)lse_cu, prm.cu_seqlens_k = ck_ok, prm.num_seqs = 2, t[LSE].data = lse_cu),
       call_fwd(), INV, "cu_seqlens_q");
  CASE("cu_seqlens_k inside output lse (backward: dq)",
       (prm.cu_seqlens_q = cq_ok, prm.cu_seqlens_k = (const int64_t *)(lse_cu + 4), prm.num_seqs = 2,
        t[DQ].data = lse_cu),
       call_bwd(), INV, "cu_seqlens_k");
  tu_expect("the offsets inside the refused calls' outputs untouched",
            memcmp(lse_cu, cq_ok, sizeof cq_ok) == 0 && memcmp(lse_cu + 4, ck_ok, sizeof ck_ok) == 0);
  CASE("cu_seqlens_k ends past Nk", (prm.cu_seqlens_q = cq_ok, prm.cu_seqlens_k = ck_end, prm.num_seqs = 2),
       call_jvp(), INV, "cu_seqlens_k[2]");
  /* JFA_PARAMS_SEQLENS_DEVICE: on the CPU the offsets are host memory and checked as without it; without offsets it
     is refused */
  CASE("device-offsets flag without offsets", prm.flags = JFA_PARAMS_SEQLENS_DEVICE, call_fwd(), INV,
       "JFA_PARAMS_SEQLENS_DEVICE");
  CASE("device-offsets flag on the CPU: decreasing offsets still refused",
       (prm.flags = JFA_PARAMS_SEQLENS_DEVICE, prm.cu_seqlens_q = cq_dec, prm.cu_seqlens_k = ck3, prm.num_seqs = 3),
       call_bwd(), INV, "cu_seqlens_q[2]");
  CASE("packed sequences with explicit positions",
       (prm.cu_seqlens_q = cq_ok, prm.cu_seqlens_k = ck_ok, prm.num_seqs = 2, prm.mask = JFA_MASK_POSITIONS),
       call_fwd(), INV, "mask");
  CASE("packed sequences with batch 2",
       (prm.cu_seqlens_q = cq_ok, prm.cu_seqlens_k = ck_ok, prm.num_seqs = 2,
        batch2()),
       call_fwd(), INV, "cu_seqlens_q");
  tbuf_t mask = tb_new(JFA_DTYPE_BOOL, 0, 1, 4, 5, 6);
  double *ones = (double *)malloc(mask.n * sizeof(double));
  for (size_t i = 0; i < mask.n; ++i) ones[i] = 1.0;
  tb_set(&mask, ones);
  free(ones);
  jfa_tensor_t mt;
  CASE("attn_mask wrong Nk", (mt = mask.t, mt.shape[3] = 5, prm.attn_mask = &mt), call_fwd(), INV, "attn_mask");
  CASE("attn_mask 3 heads (not 1 or Hq)", (mt = mask.t, mt.shape[1] = 3, prm.attn_mask = &mt), call_bwd(), INV,
       "attn_mask");
  CASE("attn_mask batch 2 (q has 1)", (mt = mask.t, mt.shape[0] = 2, prm.attn_mask = &mt), call_jvp(), INV,
       "attn_mask");
  CASE("attn_mask float16", (mt = mask.t, mt.dtype = JFA_DTYPE_FLOAT16, prm.attn_mask = &mt), call_fwd(), INV,
       "attn_mask");
  CASE("attn_mask on CUDA", (mt = mask.t, mt.device = JFA_DEVICE_CUDA, prm.attn_mask = &mt), call_fwd(), INV,
       "attn_mask");
  CASE("attn_mask data NULL", (mt = mask.t, mt.data = NULL, prm.attn_mask = &mt), call_bwd(), INV, "attn_mask");
  CASE("attn_mask negative stride", (mt = mask.t, mt.stride[3] = -1, prm.attn_mask = &mt), call_fwd(), INV,
       "attn_mask");
  CASE("output o overlaps attn_mask", (mt = t[O], mt.dtype = JFA_DTYPE_BOOL, mt.shape[3] = 6, prm.attn_mask = &mt), call_fwd(), INV,
       "o");
  CASE("output dq overlaps attn_mask", (mt = t[DQ], mt.dtype = JFA_DTYPE_BOOL, mt.shape[3] = 6, prm.attn_mask = &mt),
       call_bwd(), INV, "dq");
  /* the caller's block map (params mask_map, jfa 0.5): only with attn_mask, of exactly jfa_attention_mask_map_bytes
     (0 on the CPU, whose calls read no map) */
  static _Alignas(256) unsigned char map256[512];
  CASE("mask_map without attn_mask", prm.mask_map = map256, call_fwd(), INV, "mask_map");
  CASE("mask_map_bytes without mask_map", prm.mask_map_bytes = 256, call_bwd(), INV, "mask_map_bytes");
  CASE("mask_map_bytes 256 on the CPU (its maps take 0)",
       (prm.attn_mask = &mask.t, prm.mask_map = map256, prm.mask_map_bytes = 256), call_jvp(), INV, "mask_map_bytes");
  reset();
  expect("mask_map_bytes with bytes NULL", jfa_attention_mask_map_bytes(ctx, &mask.t, NULL), INV, "bytes");
  expect("mask_map_bytes of a NULL mask", jfa_attention_mask_map_bytes(ctx, NULL, (uint64_t *)(void *)map256), INV,
         "attn_mask");
  CASE("mask_map_bytes of a mask of an unknown dtype", (mt = mask.t, mt.dtype = (jfa_dtype_t)99),
       jfa_attention_mask_map_bytes(ctx, &mt, (uint64_t *)(void *)map256), INV, "attn_mask");
  /* the CPU's masks are bool, float32 or float64: a 16-bit one is refused by the map calls as by the attention calls */
  CASE("mask_map_bytes of a float16 mask on the CPU", (mt = mask.t, mt.dtype = JFA_DTYPE_FLOAT16),
       jfa_attention_mask_map_bytes(ctx, &mt, (uint64_t *)(void *)map256), JFA_ERROR_UNSUPPORTED, "attn_mask");
  CASE("mask_map_build of a bfloat16 mask on the CPU", (mt = mask.t, mt.dtype = JFA_DTYPE_BFLOAT16),
       jfa_attention_mask_map_build(ctx, &mt, NULL, 0), JFA_ERROR_UNSUPPORTED, "attn_mask");
  expect("mask_map_build of 8 bytes on the CPU (its maps take 0)", jfa_attention_mask_map_build(ctx, &mask.t, map256, 8),
         INV, "bytes");

  /* merge */
  CASE("merge: mu_part NULL with od given", (void)0,
       jfa_attention_merge(ctx, &t[OA], &t[LA], &t[ODA], &t[MUA], &t[OP], &t[LP], &t[ODP], NULL), INV, "mu_part");
  CASE("merge: NULL lse_acc", (void)0,
       jfa_attention_merge(ctx, &t[OA], NULL, NULL, NULL, &t[OP], &t[LP], NULL, NULL), INV, "lse_acc");
  CASE("merge: lse_acc float16", t[LA].dtype = JFA_DTYPE_FLOAT16, call_merge(), INV, "lse_acc");
  CASE("merge: o_acc float16", t[OA].dtype = JFA_DTYPE_FLOAT16, call_merge(), INV, "o_acc");
  CASE("merge: o_part shape differs", t[OP].shape[2] = 4, call_merge(), INV, "o_part");
  CASE("merge: od_part dtype differs from o_part", t[ODP].dtype = JFA_DTYPE_FLOAT32, call_merge(), INV, "od_part");
  CASE("merge: o_acc overlaps o_part", t[OA].data = t[OP].data, call_merge(), INV, "o_acc");
  CASE("merge: mu_acc overlaps lse_acc", t[MUA].data = t[LA].data, call_merge(), INV, "mu_acc");

  /* contexts */
  jfa_context_t *c2 = NULL;
  reset();
  expect("context_create NULL ctx pointer", jfa_context_create(NULL, JFA_DEVICE_CPU, 0), INV, "ctx");
  expect("context_create unknown device", jfa_context_create(&c2, (jfa_device_t)5, 0), INV, "device");
  if (!jfa_cuda_available(NULL))
    expect("context_create CUDA without a GPU", jfa_context_create(&c2, JFA_DEVICE_CUDA, 0), JFA_ERROR_UNSUPPORTED,
           "device");
  expect("set_flags unknown bits", jfa_context_set_flags(ctx, 1u << 9), INV, "flags");
  expect("set_num_threads negative", jfa_context_set_num_threads(ctx, -1), INV, "num_threads");
  expect("set_num_threads above JFA_MAX_THREADS (OpenMP's runtime crashed at 100000)",
         jfa_context_set_num_threads(ctx, JFA_MAX_THREADS + 1), INV, "num_threads");
  tu_expect("set_num_threads JFA_MAX_THREADS and 0 accepted",
            jfa_context_set_num_threads(ctx, JFA_MAX_THREADS) == JFA_SUCCESS &&
                jfa_context_set_num_threads(ctx, 0) == JFA_SUCCESS);
  expect("set_stream on a CPU context", jfa_context_set_stream(ctx, (void *)ctx), INV, "cuda_stream");
  tu_expect("context_destroy(NULL) succeeds", jfa_context_destroy(NULL) == JFA_SUCCESS);

  /* the unmodified set-up is valid: the calls succeed and write their outputs */
  reset();
  jfa_status_t s1 = call_jvp(), s2 = call_bwd();
  for (int i = 0; i < NT; ++i) tb_get(&buf[i]);
  size_t nan = tu_count_nan(buf[O].val, buf[O].n) + tu_count_nan(buf[OD].val, buf[OD].n) +
               tu_count_nan(buf[DQ].val, buf[DQ].n) + tu_count_nan(buf[DK].val, buf[DK].n) +
               tu_count_nan(buf[DV].val, buf[DV].n) + tu_count_nan(buf[LSE].val, buf[LSE].n) +
               tu_count_nan(buf[MU].val, buf[MU].n);
  tu_expect("valid set-up: forward_jvp and backward succeed and write every output",
            s1 == JFA_SUCCESS && s2 == JFA_SUCCESS && nan == 0);
  /* merge accumulators hold poison: fill with the identity, then a valid merge works */
  double *zero = (double *)calloc(buf[OA].n, sizeof(double)), *ninf = (double *)malloc(buf[LA].n * sizeof(double));
  for (size_t i = 0; i < buf[LA].n; ++i) ninf[i] = -INFINITY;
  tb_set(&buf[OA], zero), tb_set(&buf[ODA], zero), tb_set(&buf[MUA], zero), tb_set(&buf[LA], ninf);
  reset();
  tu_expect("valid set-up: merge succeeds", call_merge() == JFA_SUCCESS);
  /* a map on the CPU: 0 bytes, nothing built, a call given it (bytes 0) bitwise the call without */
  {
    uint64_t mb = 7;
    tu_expect("jfa_attention_mask_map_bytes on the CPU: 0",
              jfa_attention_mask_map_bytes(ctx, &mask.t, &mb) == JFA_SUCCESS && mb == 0);
    tu_expect("jfa_attention_mask_map_build on the CPU, 0 bytes: success (nothing to build)",
              jfa_attention_mask_map_build(ctx, &mask.t, NULL, 0) == JFA_SUCCESS);
    reset();
    prm.attn_mask = &mask.t;
    jfa_status_t m1 = call_jvp();
    tb_get(&buf[O]), tb_get(&buf[OD]);
    double *o1 = (double *)malloc(2 * buf[O].n * sizeof(double));
    memcpy(o1, buf[O].val, buf[O].n * sizeof(double)), memcpy(o1 + buf[O].n, buf[OD].val, buf[O].n * sizeof(double));
    tb_poison(&buf[O]), tb_poison(&buf[OD]);
    reset();
    prm.attn_mask = &mask.t, prm.mask_map = map256, prm.mask_map_bytes = 0;
    jfa_status_t m2 = call_jvp();
    tb_get(&buf[O]), tb_get(&buf[OD]);
    tu_expect("a call given a map of 0 bytes on the CPU: o and od bitwise the call without",
              m1 == JFA_SUCCESS && m2 == JFA_SUCCESS && memcmp(o1, buf[O].val, buf[O].n * sizeof(double)) == 0 &&
                  memcmp(o1 + buf[O].n, buf[OD].val, buf[O].n * sizeof(double)) == 0);
    free(o1);
  }
  free(zero), free(ninf);

  /* the valid mask params are accepted */
  reset();
  prm.attn_mask = &mask.t, prm.window_left = 2, prm.window_right = 0;
  prm.cu_seqlens_q = cq_ok, prm.cu_seqlens_k = ck_ok, prm.num_seqs = 2;
  tu_expect("valid set-up with a bool mask, a window and packed sequences succeeds",
            call_jvp() == JFA_SUCCESS && call_bwd() == JFA_SUCCESS);
  tb_free(&mask);

  for (int i = 0; i < NT; ++i) tb_free(&buf[i]), free(snap[i]);
  checked_products();
  interleaved_output();
  overlap_against_brute_force();
  jfa_context_destroy(ctx);
  return tu_finish();
}
