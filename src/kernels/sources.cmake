# CUDA kernels; without CUDA, no_cuda.c supplies jfa_cuda_* returning JFA_ERROR_UNSUPPORTED.
# Files named *_sm90a.cu hold the Hopper kernels (wgmma, TMA, setmaxnreg): they are built
# apart, for sm_90a only (JFA_SM90A_SOURCES, see CMakeLists.txt).
if(JFA_ENABLE_CUDA)
  file(GLOB _jfa_kernel_sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*.cu)
  file(GLOB JFA_SM90A_SOURCES CONFIGURE_DEPENDS ${CMAKE_CURRENT_LIST_DIR}/*_sm90a.cu)
  list(REMOVE_ITEM _jfa_kernel_sources ${JFA_SM90A_SOURCES})
  list(APPEND JFA_SOURCES ${_jfa_kernel_sources})
  # -DJFA_TUNING=ON compiles extra tile shapes chosen by JFA_TUNE_* environment variables
  # (bench/run_h200.sh uses it to compare them); off in normal builds.
  option(JFA_TUNING "Compile alternative kernel tile shapes for tuning" OFF)
  if(JFA_TUNING)
    set_source_files_properties(${_jfa_kernel_sources} ${JFA_SM90A_SOURCES} PROPERTIES COMPILE_DEFINITIONS JFA_TUNING=1)
  endif()
else()
  list(APPEND JFA_SOURCES ${CMAKE_CURRENT_LIST_DIR}/no_cuda.c)
endif()
