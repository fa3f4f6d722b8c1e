/*
 * params.h - private: the layouts of jfa_attention_params_t (src/core/params.c).
 */
#ifndef JFA_CORE_PARAMS_H_
#define JFA_CORE_PARAMS_H_

#include "jfa.h"

#ifdef __cplusplus
extern "C" {
#endif

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
