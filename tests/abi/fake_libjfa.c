/*
 * fake_libjfa.c - a shared library that only looks like libjfa: jfa_version()
 * returns $JFA_FAKE_VERSION (default 200, i.e. 0.2.0) and nothing else exists.
 * test_abi_python.py points the binding at it to see the refusal.
 */
#include <stdlib.h>

__attribute__((visibility("default"))) int jfa_version(void);
int jfa_version(void) {
  const char *v = getenv("JFA_FAKE_VERSION");
  return v ? atoi(v) : 200;
}

__attribute__((visibility("default"))) const char *jfa_get_last_error(void);
const char *jfa_get_last_error(void) { return ""; }
