# Ring (sequence-parallel) attention and sequence layouts.
file(GLOB _jfa_ring_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.c)
list(APPEND JFA_SOURCES ${_jfa_ring_sources})
