/*
 * params.c - jfa_attention_params_t's layouts: the versioned init of jfa.h, the
 * untagged init of jfa 0.1 (kept for binaries built against it), and the reading
 * of a caller's params of any accepted layout into the current one.
 */
#include <string.h>

#include "core/abi.h"
#include "core/check.h"
#include "core/params.h"

/* jfa 0.1's jfa_attention_params_t: no tag, four fields. */
typedef struct {
  double scale;
  jfa_mask_t mask;
  int64_t q_position;
  int64_t k_position;
} params_v0_t;

/* the untagged fields are the current fields that follow the header, in the same places */
_Static_assert(offsetof(jfa_attention_params_t, scale) == JFA_STRUCT_HEADER_BYTES, "header");
_Static_assert(offsetof(jfa_attention_params_t, k_position) - JFA_STRUCT_HEADER_BYTES ==
                   offsetof(params_v0_t, k_position) &&
               offsetof(jfa_attention_params_t, mask) - JFA_STRUCT_HEADER_BYTES == offsetof(params_v0_t, mask),
               "jfa 0.1 params layout");

/* sizes[v]: layout version v ends with its last field (version 1: flags; 2: mask_map_bytes). */
static const uint64_t params_sizes[] = {0, JFA_LAYOUT_END(jfa_attention_params_t, flags),
                                        JFA_LAYOUT_END(jfa_attention_params_t, mask_map_bytes)};
_Static_assert(JFA_LAYOUT_END(jfa_attention_params_t, mask_map_bytes) == sizeof(jfa_attention_params_t),
               "a field was appended to jfa_attention_params_t: add its layout version here and in jfa.h");

static const jfa_struct_abi_t params_abi = {"jfa_attention_params_t", "params", JFA_STRUCT_ATTENTION_PARAMS,
                                            JFA_ATTENTION_PARAMS_VERSION, params_sizes, sizeof(params_v0_t)};

void jfa_params_defaults(jfa_attention_params_t *params) {
  memset(params, 0, sizeof *params);
  params->struct_tag = JFA_STRUCT_TAG(JFA_STRUCT_ATTENTION_PARAMS, JFA_ATTENTION_PARAMS_VERSION);
  params->struct_size = sizeof *params;
  params->scale = 0.0;
  params->mask = JFA_MASK_NONE;
  params->attn_mask = NULL;
  params->window_left = JFA_WINDOW_UNBOUNDED;
  params->window_right = JFA_WINDOW_UNBOUNDED;
  params->cu_seqlens_q = NULL;
  params->cu_seqlens_k = NULL;
  params->num_seqs = 0;
  params->flags = 0;
  params->mask_map = NULL;
  params->mask_map_bytes = 0;
}

jfa_status_t jfa_attention_params_init_versioned(jfa_attention_params_t *params, uint64_t size, uint32_t version) {
  jfa_attention_params_t d;
  jfa_params_defaults(&d);
  return jfa_abi_init(&params_abi, params, size, version, &d);
}

/* jfa 0.1's init, for binaries built against 0.1 (jfa.h makes the name a macro for
   the versioned init): it writes the four untagged fields only. */
JFA_API void(jfa_attention_params_init)(params_v0_t *params);
void(jfa_attention_params_init)(params_v0_t *params) {
  if (!params) return;
  memset(params, 0, sizeof *params);
  params->mask = JFA_MASK_NONE;
}

jfa_status_t jfa_params_read(const jfa_attention_params_t *params, jfa_attention_params_t *out) {
  jfa_attention_params_t p;
  jfa_params_defaults(&p);
  if (params) JFA_CHECK(jfa_abi_read(&params_abi, params, &p, sizeof p));
  *out = p;
  return JFA_SUCCESS;
}
