# CPU backend (plain C, float64 accumulation).
file(GLOB _jfa_cpu_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND JFA_SOURCES ${_jfa_cpu_sources})
