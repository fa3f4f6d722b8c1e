/*
 * test_abi_layouts.c - the versioned structs through today's header: the init
 * macros write tag, size and defaults and nothing past the struct; the versioned
 * inits refuse an unknown size or version writing nothing; the calls read a
 * struct of exactly sizeof bytes (it ends at an inaccessible page) and refuse a
 * tag of another kind; the untagged jfa 0.2 callbacks layout still works; the
 * version is one number (jfa.h, CMake's project version, jfa_version(), SONAME).
 *
 * Run: ctest --test-dir build -R test_abi_layouts
 */
#define _DEFAULT_SOURCE
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "jfa.h"
#include "jfa_ring.h"
#include "testutil.h"

/* `bytes` of memory ending exactly where an inaccessible page begins (filled with 0xA5). */
static void *at_page_end(size_t bytes) {
  long page = sysconf(_SC_PAGESIZE);
  unsigned char *m = mmap(NULL, (size_t)page * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (m == MAP_FAILED || mprotect(m + page, (size_t)page, PROT_NONE) != 0) {
    perror("mmap");
    exit(1);
  }
  memset(m, 0xA5, (size_t)page);
  return m + page - bytes;
}

static int all_bytes(const void *p, size_t n, unsigned char value) {
  for (size_t i = 0; i < n; ++i)
    if (((const unsigned char *)p)[i] != value) return 0;
  return 1;
}

static int cb_ok(void *u) { return (void)u, 0; }
static int cb_start(void *u, int n, const void *const *s, void *const *r, const size_t *b) {
  return (void)u, (void)n, (void)s, (void)r, (void)b, 0;
}
static int cb_minmax(void *u, const int64_t *in, int64_t *lo, int64_t *hi, int n) {
  for (int i = 0; i < n; ++i) lo[i] = hi[i] = in[i];
  return (void)u, 0;
}

int main(void) {
  tu_init_seed("test_abi_layouts");
  char label[512], want[64];

  /* one version number */
  snprintf(want, sizeof want, "%d.%d.%d", JFA_VERSION_MAJOR, JFA_VERSION_MINOR, JFA_VERSION_PATCH);
  snprintf(label, sizeof label, "CMake's project version %s == jfa.h's %s", JFA_CMAKE_VERSION, want);
  tu_expect(label, strcmp(JFA_CMAKE_VERSION, want) == 0);
  tu_expect("jfa_version() == JFA_VERSION", jfa_version() == JFA_VERSION);
  snprintf(want, sizeof want, "libjfa.so.%d", JFA_VERSION_MAJOR);
  snprintf(label, sizeof label, "SONAME %s == %s", JFA_SONAME, want);
  tu_expect(label, strcmp(JFA_SONAME, want) == 0);

  /* the init macros: tag, size and defaults, nothing written past the struct */
  jfa_attention_params_t *p = at_page_end(sizeof *p);
  tu_expect("jfa_attention_params_init: success, tag, size, defaults",
            jfa_attention_params_init(p) == JFA_SUCCESS &&
                p->struct_tag == JFA_STRUCT_TAG(JFA_STRUCT_ATTENTION_PARAMS, JFA_ATTENTION_PARAMS_VERSION) &&
                p->struct_size == sizeof *p && p->scale == 0.0 && p->mask == JFA_MASK_NONE &&
                p->window_left == JFA_WINDOW_UNBOUNDED && p->window_right == JFA_WINDOW_UNBOUNDED &&
                p->attn_mask == NULL && p->cu_seqlens_q == NULL && p->num_seqs == 0 && p->flags == 0);
  jfa_ring_config_t *c = at_page_end(sizeof *c);
  tu_expect("jfa_ring_config_init: success, tag, size, defaults",
            jfa_ring_config_init(c) == JFA_SUCCESS &&
                c->struct_tag == JFA_STRUCT_TAG(JFA_STRUCT_RING_CONFIG, JFA_RING_CONFIG_VERSION) &&
                c->struct_size == sizeof *c && c->dtype == JFA_DTYPE_FLOAT32 && c->batch == 0 &&
                c->window_left == JFA_WINDOW_UNBOUNDED && c->flags == 0);
  jfa_comm_callbacks_t *cb = at_page_end(sizeof *cb);
  tu_expect("jfa_comm_callbacks_init: success, tag, size, NULLs",
            jfa_comm_callbacks_init(cb) == JFA_SUCCESS &&
                cb->struct_tag == JFA_STRUCT_TAG(JFA_STRUCT_COMM_CALLBACKS, JFA_COMM_CALLBACKS_VERSION) &&
                cb->struct_size == sizeof *cb && cb->user == NULL && cb->exchange_start == NULL && cb->destroy == NULL);

  /* the versioned inits refuse what they do not know, writing nothing */
  unsigned char *buf = at_page_end(256);
  struct {
    uint64_t size;
    uint32_t version;
    const char *what;
  } bad[] = {{sizeof(jfa_attention_params_t) + 8, JFA_ATTENTION_PARAMS_VERSION, "size + 8"},
             {sizeof(jfa_attention_params_t) - 8, JFA_ATTENTION_PARAMS_VERSION, "size - 8"},
             {sizeof(jfa_attention_params_t), JFA_ATTENTION_PARAMS_VERSION + 1, "a newer version"},
             {sizeof(jfa_attention_params_t), 0, "version 0"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; ++i) {
    jfa_status_t st = jfa_attention_params_init_versioned((jfa_attention_params_t *)(void *)buf, bad[i].size,
                                                          bad[i].version);
    snprintf(label, sizeof label, "params init with %s: JFA_ERROR_ABI_MISMATCH, nothing written (got %d: %s)",
             bad[i].what, (int)st, jfa_get_last_error());
    tu_expect(label, st == JFA_ERROR_ABI_MISMATCH && all_bytes(buf, 256, 0xA5) && strstr(jfa_get_last_error(), "params"));
  }
  tu_expect("ring config init with a wrong size: JFA_ERROR_ABI_MISMATCH, nothing written",
            jfa_ring_config_init_versioned((jfa_ring_config_t *)(void *)buf, 8, JFA_RING_CONFIG_VERSION) ==
                    JFA_ERROR_ABI_MISMATCH && all_bytes(buf, 256, 0xA5));
  tu_expect("callbacks init with a newer version: JFA_ERROR_ABI_MISMATCH, nothing written",
            jfa_comm_callbacks_init_versioned((jfa_comm_callbacks_t *)(void *)buf, sizeof(jfa_comm_callbacks_t),
                                              9) == JFA_ERROR_ABI_MISMATCH && all_bytes(buf, 256, 0xA5));
  tu_expect("params init of NULL: JFA_ERROR_INVALID_ARGUMENT", jfa_attention_params_init(NULL) ==
                                                                   JFA_ERROR_INVALID_ARGUMENT);
  tu_expect("jfa_status_string(JFA_ERROR_ABI_MISMATCH) names it",
            strncmp(jfa_status_string(JFA_ERROR_ABI_MISMATCH), "JFA_ERROR_ABI_MISMATCH", 22) == 0);

  /* a call reads exactly the caller's struct (p ends at the guard page) */
  jfa_context_t *ctx = NULL;
  if (jfa_context_create(&ctx, JFA_DEVICE_CPU, 0) != JFA_SUCCESS) return 1;
  double q[2 * 3 * 4], o[2 * 3 * 4], lse[2 * 3];
  for (int i = 0; i < 24; ++i) q[i] = tu_normal();
  jfa_tensor_t tq = jfa_tensor_bhsd(q, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, 1, 2, 3, 4);
  jfa_tensor_t to = jfa_tensor_bhsd(o, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, 1, 2, 3, 4);
  jfa_tensor_t tl = jfa_tensor_bhsd(lse, JFA_DTYPE_FLOAT64, JFA_DEVICE_CPU, 1, 2, 3, 1);
  jfa_attention_params_init(p);
  p->mask = JFA_MASK_CAUSAL_TOP_LEFT;
  tu_expect("forward with params ending at a guard page", jfa_attention_forward(ctx, p, &tq, &tq, &tq, &to, &tl) ==
                                                              JFA_SUCCESS);
  /* layout version 1 (jfa 0.3 and 0.4: up to flags) is still accepted, read to its end, its map fields defaulted */
  const size_t v1 = offsetof(jfa_attention_params_t, mask_map);
  jfa_attention_params_t *p1 = at_page_end(v1);
  snprintf(label, sizeof label, "params layout version 1 (%zu bytes at a guard page): init, then a masked call", v1);
  tu_expect(label, jfa_attention_params_init_versioned(p1, v1, 1) == JFA_SUCCESS && p1->struct_size == v1 &&
                       (p1->mask = JFA_MASK_CAUSAL_TOP_LEFT,
                        jfa_attention_forward(ctx, p1, &tq, &tq, &tq, &to, &tl) == JFA_SUCCESS));
  p->struct_tag = JFA_STRUCT_TAG(JFA_STRUCT_RING_CONFIG, JFA_RING_CONFIG_VERSION);
  tu_poison(o, 24, JFA_DTYPE_FLOAT64);
  jfa_status_t st = jfa_attention_forward(ctx, p, &tq, &tq, &tq, &to, &tl);
  snprintf(label, sizeof label, "params carrying a ring config's tag: JFA_ERROR_ABI_MISMATCH, o untouched (%s)",
           jfa_get_last_error());
  tu_expect(label, st == JFA_ERROR_ABI_MISMATCH && tu_count_nan(o, 24) == 24 &&
                       strstr(jfa_get_last_error(), "jfa_ring_config_t"));
  jfa_attention_params_init(p);
  p->flags = 1u << 7;
  tu_expect("unknown params flags: JFA_ERROR_INVALID_ARGUMENT",
            jfa_attention_forward(ctx, p, &tq, &tq, &tq, &to, &tl) == JFA_ERROR_INVALID_ARGUMENT &&
                strstr(jfa_get_last_error(), "flags"));

  /* callbacks: the tagged layout and jfa 0.2's untagged one (six pointers) */
  jfa_comm_t *comm = NULL;
  cb->exchange_start = cb_start, cb->exchange_wait = cb_ok, cb->allreduce_minmax = cb_minmax, cb->barrier = cb_ok;
  tu_expect("callbacks comm from a tagged struct at a guard page",
            jfa_comm_create_callbacks(&comm, cb, 0, 1) == JFA_SUCCESS && jfa_comm_barrier(comm) == JFA_SUCCESS);
  jfa_comm_destroy(comm);
  struct {
    void *user;
    int (*start)(void *, int, const void *const *, void *const *, const size_t *);
    int (*wait)(void *);
    int (*minmax)(void *, const int64_t *, int64_t *, int64_t *, int);
    int (*barrier)(void *);
    void (*destroy)(void *);
  } *old = at_page_end(6 * sizeof(void *));
  old->user = NULL, old->start = cb_start, old->wait = cb_ok, old->minmax = cb_minmax, old->barrier = cb_ok;
  old->destroy = NULL;
  comm = NULL;
  tu_expect("callbacks comm from jfa 0.2's untagged layout",
            jfa_comm_create_callbacks(&comm, (const jfa_comm_callbacks_t *)(void *)old, 0, 1) == JFA_SUCCESS &&
                jfa_comm_barrier(comm) == JFA_SUCCESS);
  jfa_comm_destroy(comm);
  comm = NULL;
  cb->struct_size = 8;
  st = jfa_comm_create_callbacks(&comm, cb, 0, 1);
  tu_expect("callbacks with a wrong size: JFA_ERROR_ABI_MISMATCH, no comm", st == JFA_ERROR_ABI_MISMATCH && !comm);

  /* ring config at a guard page, and a newer layout refused on create */
  jfa_ring_t *ring = NULL;
  jfa_comm_create_single(&comm);
  jfa_ring_config_init(c);
  c->batch = 1, c->heads_q = 2, c->heads_kv = 2, c->seq_global = 3, c->head_dim = 4, c->dtype = JFA_DTYPE_FLOAT64;
  tu_expect("ring from a config at a guard page", jfa_ring_create(&ring, ctx, comm, c) == JFA_SUCCESS &&
                                                      jfa_ring_forward(ring, &tq, &tq, &tq, &to, &tl) == JFA_SUCCESS);
  jfa_ring_destroy(ring);
  ring = NULL;
  c->struct_tag = JFA_STRUCT_TAG(JFA_STRUCT_RING_CONFIG, JFA_RING_CONFIG_VERSION + 1);
  tu_expect("ring config of a newer layout: JFA_ERROR_ABI_MISMATCH, no ring",
            jfa_ring_create(&ring, ctx, comm, c) == JFA_ERROR_ABI_MISMATCH && !ring);
  jfa_comm_destroy(comm);
  jfa_context_destroy(ctx);
  return tu_finish();
}
