# CUDA kernels; without CUDA, no_cuda.c supplies jfa_cuda_* returning JFA_ERROR_UNSUPPORTED.
if(JFA_ENABLE_CUDA)
  file(GLOB _jfa_kernel_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.cu)
  list(APPEND JFA_SOURCES ${_jfa_kernel_sources})
else()
  list(APPEND JFA_SOURCES ${CMAKE_CURRENT_LIST_DIR}/no_cuda.c)
endif()
