/*
 * ring_config.c - jfa_ring_config_t's layouts: the versioned init of jfa_ring.h,
 * the untagged init of jfa 0.1 (kept for binaries built against it), and the
 * reading of a caller's config of any accepted layout into the current one.
 */
#include <string.h>

#include "core/abi.h"
#include "core/check.h"
#include "ring/ring_config.h"

/* jfa 0.1's jfa_ring_config_t: no tag, nine fields. */
typedef struct {
  int64_t batch, heads_q, heads_kv, seq_global, head_dim;
  jfa_dtype_t dtype;
  jfa_layout_t layout;
  jfa_mask_t mask;
  double scale;
} ring_config_v0_t;

_Static_assert(offsetof(jfa_ring_config_t, batch) == JFA_STRUCT_HEADER_BYTES &&
                   offsetof(jfa_ring_config_t, scale) - JFA_STRUCT_HEADER_BYTES == offsetof(ring_config_v0_t, scale) &&
                   offsetof(jfa_ring_config_t, mask) - JFA_STRUCT_HEADER_BYTES == offsetof(ring_config_v0_t, mask),
               "jfa 0.1 ring config layout");

static const uint64_t config_sizes[] = {0, JFA_LAYOUT_END(jfa_ring_config_t, flags)};
_Static_assert(JFA_LAYOUT_END(jfa_ring_config_t, flags) == sizeof(jfa_ring_config_t),
               "a field was appended to jfa_ring_config_t: add its layout version here and in jfa_ring.h");

static const jfa_struct_abi_t config_abi = {"jfa_ring_config_t", "config", JFA_STRUCT_RING_CONFIG,
                                            JFA_RING_CONFIG_VERSION, config_sizes, sizeof(ring_config_v0_t)};

void jfa_ring_config_defaults(jfa_ring_config_t *config) {
  memset(config, 0, sizeof(*config));
  config->struct_tag = JFA_STRUCT_TAG(JFA_STRUCT_RING_CONFIG, JFA_RING_CONFIG_VERSION);
  config->struct_size = sizeof(*config);
  config->dtype = JFA_DTYPE_FLOAT32;
  config->layout = JFA_LAYOUT_CONTIGUOUS;
  config->mask = JFA_MASK_NONE;
  config->scale = 0.0;
  config->window_left = JFA_WINDOW_UNBOUNDED;
  config->window_right = JFA_WINDOW_UNBOUNDED;
  config->cu_seqlens = NULL;
  config->num_seqs = 0;
  config->flags = 0;
}

jfa_status_t jfa_ring_config_init_versioned(jfa_ring_config_t *config, uint64_t size, uint32_t version) {
  jfa_ring_config_t d;
  jfa_ring_config_defaults(&d);
  return jfa_abi_init(&config_abi, config, size, version, &d);
}

/* jfa 0.1's init, for binaries built against 0.1 (jfa_ring.h makes the name a macro
   for the versioned init): it writes the nine untagged fields only. */
JFA_API void(jfa_ring_config_init)(ring_config_v0_t *config);
void(jfa_ring_config_init)(ring_config_v0_t *config) {
  if (!config) return;
  memset(config, 0, sizeof(*config));
  config->dtype = JFA_DTYPE_FLOAT32;
  config->layout = JFA_LAYOUT_CONTIGUOUS;
  config->mask = JFA_MASK_NONE;
}

jfa_status_t jfa_ring_config_read(const jfa_ring_config_t *config, jfa_ring_config_t *out) {
  jfa_ring_config_defaults(out);
  if (!config) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "config is NULL");
  return jfa_abi_read(&config_abi, config, out, sizeof(*out));
}
