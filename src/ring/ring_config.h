/*
 * ring_config.h - private: reading a caller's jfa_ring_config_t of any accepted
 * layout (src/ring/ring_config.c).
 */
#ifndef JFA_RING_CONFIG_H_
#define JFA_RING_CONFIG_H_

#include "jfa_ring.h"

/** The defaults of the current layout (what jfa_ring_config_init writes). */
void jfa_ring_config_defaults(jfa_ring_config_t *config);

/** Reads config (tagged, or jfa 0.1's untagged layout) into *out, a current-layout
 *  struct; missing fields take their defaults. JFA_ERROR_ABI_MISMATCH for an
 *  unknown layout, JFA_ERROR_INVALID_ARGUMENT for NULL (out then holds the defaults). */
jfa_status_t jfa_ring_config_read(const jfa_ring_config_t *config, jfa_ring_config_t *out);

#endif /* JFA_RING_CONFIG_H_ */
