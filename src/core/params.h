/*
 * params.h - private: the layouts of jfa_attention_params_t (src/core/params.c).
 */
#ifndef JFA_CORE_PARAMS_H_
#define JFA_CORE_PARAMS_H_

#include <math.h>

#include "jfa.h"

#ifdef __cplusplus
extern "C" {
#endif

/** The params.flags (and ring config flags) bits this library knows; others are refused. */
#define JFA_PARAMS_KNOWN_FLAGS (JFA_PARAMS_SCALE_AS_GIVEN | JFA_PARAMS_SEQLENS_DEVICE)

/** The scale a call uses: as given when nonzero or with JFA_PARAMS_SCALE_AS_GIVEN, else 1/sqrt(D). */
static inline double jfa_params_scale(double scale, uint32_t flags, int64_t D) {
  return scale != 0.0 || (flags & JFA_PARAMS_SCALE_AS_GIVEN) ? scale : 1.0 / sqrt((double)D);
}

/** The defaults of the current layout (what jfa_attention_params_init writes). */
void jfa_params_defaults(jfa_attention_params_t *params);

/**
 * Reads the caller's params in any accepted layout (NULL: the defaults) into *out,
 * a current-layout struct; fields the caller's layout lacks take their defaults.
 * JFA_ERROR_ABI_MISMATCH for an unknown layout (nothing read past its header).
 */
jfa_status_t jfa_params_read(const jfa_attention_params_t *params, jfa_attention_params_t *out);

#ifdef __cplusplus
}
#endif

#endif /* JFA_CORE_PARAMS_H_ */
