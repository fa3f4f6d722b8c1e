/*
 * abi.c - tagged, sized public structs (jfa.h, "Versioned structs"): the
 * initialisation of a caller's layout and the reading of any accepted layout
 * into the current one, never touching a byte outside the caller's struct.
 */
#include <string.h>

#include "core/abi.h"
#include "core/check.h"

static const char *kind_name(uint32_t kind) {
  switch (kind) {
    case JFA_STRUCT_ATTENTION_PARAMS: return "jfa_attention_params_t";
    case JFA_STRUCT_RING_CONFIG: return "jfa_ring_config_t";
    case JFA_STRUCT_COMM_CALLBACKS: return "jfa_comm_callbacks_t";
    default: return "an unknown struct";
  }
}

/* The version's size, or 0 when the library does not know the version. */
static uint64_t version_size(const jfa_struct_abi_t *abi, uint32_t version) {
  return version >= 1 && version <= abi->current ? abi->sizes[version] : 0;
}

static jfa_status_t unknown_version(const jfa_struct_abi_t *abi, uint32_t version) {
  JFA_FAIL(JFA_ERROR_ABI_MISMATCH, "%s: %s layout version %u is not one this library knows (libjfa %d.%d.%d knows 1..%u)%s",
           abi->arg_name, abi->type_name, (unsigned)version, JFA_VERSION_MAJOR, JFA_VERSION_MINOR, JFA_VERSION_PATCH,
           (unsigned)abi->current,
           version > abi->current ? ": the caller was built against a newer jfa header; use a newer libjfa" : "");
}

jfa_status_t jfa_abi_init(const jfa_struct_abi_t *abi, void *out, uint64_t size, uint32_t version,
                          const void *defaults) {
  if (!out) JFA_FAIL(JFA_ERROR_INVALID_ARGUMENT, "%s: the %s to initialise is NULL", abi->arg_name, abi->type_name);
  uint64_t want = version_size(abi, version);
  if (want == 0) return unknown_version(abi, version);
  if (size != want)
    JFA_FAIL(JFA_ERROR_ABI_MISMATCH,
             "%s: size %llu does not match %s layout version %u (%llu bytes): the caller's struct differs from "
             "jfa's header",
             abi->arg_name, (unsigned long long)size, abi->type_name, (unsigned)version, (unsigned long long)want);
  uint64_t tag = JFA_STRUCT_TAG(abi->kind, version);
  memcpy(out, defaults, (size_t)size);
  memcpy(out, &tag, sizeof tag);
  memcpy((unsigned char *)out + 8, &size, sizeof size);
  return JFA_SUCCESS;
}

jfa_status_t jfa_abi_read(const jfa_struct_abi_t *abi, const void *in, void *out, size_t out_bytes) {
  uint64_t tag, size;
  memcpy(&tag, in, sizeof tag); /* every layout, untagged ones included, has at least 8 bytes */
  if ((uint32_t)(tag >> 32) != JFA_STRUCT_MAGIC) {
    if (abi->legacy_bytes == 0)
      JFA_FAIL(JFA_ERROR_ABI_MISMATCH, "%s: no jfa struct tag (was the %s initialised with its init macro?)",
               abi->arg_name, abi->type_name);
    /* the untagged layout: its fields are the current ones after the header */
    memcpy((unsigned char *)out + JFA_STRUCT_HEADER_BYTES, in, abi->legacy_bytes);
  } else {
    uint32_t kind = (uint32_t)(tag >> 16) & 0xFFFFu, version = (uint32_t)tag & 0xFFFFu;
    if (kind != abi->kind)
      JFA_FAIL(JFA_ERROR_ABI_MISMATCH, "%s: the struct's tag says %s (kind %u), not %s", abi->arg_name,
               kind_name(kind), (unsigned)kind, abi->type_name);
    uint64_t want = version_size(abi, version);
    if (want == 0) return unknown_version(abi, version);
    memcpy(&size, (const unsigned char *)in + 8, sizeof size); /* tagged: the header is there */
    if (size != want || want > out_bytes)
      JFA_FAIL(JFA_ERROR_ABI_MISMATCH,
               "%s: struct_size %llu does not match %s layout version %u (%llu bytes)", abi->arg_name,
               (unsigned long long)size, abi->type_name, (unsigned)version, (unsigned long long)want);
    memcpy(out, in, (size_t)size);
  }
  tag = JFA_STRUCT_TAG(abi->kind, abi->current);
  size = out_bytes;
  memcpy(out, &tag, sizeof tag);
  memcpy((unsigned char *)out + 8, &size, sizeof size);
  return JFA_SUCCESS;
}
