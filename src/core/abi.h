/*
 * abi.h - private: the versioned-struct machinery behind jfa_attention_params_t,
 * jfa_ring_config_t and jfa_comm_callbacks_t (see "Versioned structs" in jfa.h).
 * abi.c tells a caller's layout from its first bytes, checks tag and size, and
 * copies exactly the caller's bytes over a struct of current defaults; each
 * struct's own file (params.c, ring/ring_config.c, comm/comm_callbacks.c) gives
 * its description and its untagged (legacy) layout.
 */
#ifndef JFA_CORE_ABI_H_
#define JFA_CORE_ABI_H_

#include <stddef.h>
#include <stdint.h>

#include "jfa.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Bytes of the tag and size that open every versioned struct. */
#define JFA_STRUCT_HEADER_BYTES 16

/** The end of `field` in `type`, rounded up to the struct's alignment: the size of the
 *  layout version whose last field is `field`. */
#define JFA_LAYOUT_END(type, field)                                                          \
  ((offsetof(type, field) + sizeof(((type *)0)->field) + _Alignof(type) - 1) / _Alignof(type) * \
   _Alignof(type))

/** What the library knows of one versioned struct. */
typedef struct {
  const char *type_name;   /* "jfa_attention_params_t" */
  const char *arg_name;    /* "params": the argument named in messages */
  uint32_t kind;           /* JFA_STRUCT_* */
  uint32_t current;        /* newest layout version this library knows */
  const uint64_t *sizes;   /* sizes[v]: bytes of layout version v, 1 <= v <= current */
  size_t legacy_bytes;     /* bytes of the untagged layout (jfa 0.1's; callbacks: 0.2's), copied to offset 16 (0: none) */
} jfa_struct_abi_t;

/**
 * Fills `size` bytes of `out` from `defaults` (a current-layout struct) and writes the
 * tag and size of layout `version`. Nothing is written on failure (NULL out:
 * JFA_ERROR_INVALID_ARGUMENT; unknown version or size: JFA_ERROR_ABI_MISMATCH).
 */
jfa_status_t jfa_abi_init(const jfa_struct_abi_t *abi, void *out, uint64_t size, uint32_t version,
                          const void *defaults);

/**
 * Reads a caller's struct `in` (any accepted layout) into `out`, a current-layout
 * struct of sizeof `out_bytes` already holding the defaults: copies exactly the
 * caller's bytes (the untagged layout's to offset 16), then sets out's tag and size
 * to the current ones. Reads at most the caller's struct; fails with
 * JFA_ERROR_ABI_MISMATCH for a wrong kind, an unknown version or a size that does
 * not match its version (out untouched).
 */
jfa_status_t jfa_abi_read(const jfa_struct_abi_t *abi, const void *in, void *out, size_t out_bytes);

#ifdef __cplusplus
}
#endif

#endif /* JFA_CORE_ABI_H_ */
