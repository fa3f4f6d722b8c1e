# Front end: errors, validation, public API dispatch.
file(GLOB _jfa_core_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND JFA_SOURCES ${_jfa_core_sources})
