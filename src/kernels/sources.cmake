# CUDA kernels, one folder per kernel family (README.md, "Layout"): common/ (views, masks,
# softmax and epilogue, host helpers, context, elementwise kernels), simt/, sm80/ (mma.sync),
# sm90/ (wgmma + TMA, built for sm_90a only: JFA_SM90A_SOURCES, see CMakeLists.txt). Each
# tensor-core family instantiates its kernels per (op, head dim) in inst/<op>_d<D>.cu (the sm80
# float32 ones in inst/<op>_f32_d<D>.cu).
# Without CUDA, common/no_cuda.c supplies jfa_cuda_* returning JFA_ERROR_UNSUPPORTED.
if(JFA_ENABLE_CUDA)
  set(_jfa_all_head_dims 32 64 96 128 160 192 256)
  set(JFA_HEAD_DIMS "${_jfa_all_head_dims}" CACHE STRING
      "Head dims whose tensor-core kernels are built (a subset for development builds; default: all)")
  set(_jfa_hd_mask 0)
  foreach(d ${JFA_HEAD_DIMS})
    if(NOT d IN_LIST _jfa_all_head_dims)
      message(FATAL_ERROR "JFA_HEAD_DIMS: ${d} is not one of ${_jfa_all_head_dims}")
    endif()
    math(EXPR _jfa_hd_mask "${_jfa_hd_mask} | (1 << (${d} / 32))")
  endforeach()
  set(_jfa_k ${CMAKE_CURRENT_LIST_DIR})
  set(_jfa_kernel_sources
    ${_jfa_k}/backend.cu ${_jfa_k}/common/context.cu ${_jfa_k}/common/elementwise.cu ${_jfa_k}/common/mask.cu
    ${_jfa_k}/common/mask_blockmap.cu
    ${_jfa_k}/simt/simt.cu ${_jfa_k}/simt/family.cu ${_jfa_k}/simt/bwd_jvp.cu ${_jfa_k}/sm80/family.cu
    ${_jfa_k}/sm80/family_bwd_jvp.cu
    ${_jfa_k}/sm90/tma.cu)
  set(JFA_SM90A_SOURCES ${_jfa_k}/sm90/family.cu)
  # The sm90 float32 forward / JVP (sm90/fwd_f32.cuh, wgmma TF32), on by default: builds
  # sm90/inst/*_f32_d*.cu and lets sm90/family.cu take float32 calls (OFF: float32 on sm80).
  option(JFA_SM90_F32 "Build the sm90 (wgmma TF32) float32 forward and JVP" ON)
  foreach(d ${JFA_HEAD_DIMS})
    foreach(op fwd jvp bwd bwd_jvp fwd_f32 jvp_f32 bwd_f32)
      if(EXISTS ${_jfa_k}/sm80/inst/${op}_d${d}.cu)
        list(APPEND _jfa_kernel_sources ${_jfa_k}/sm80/inst/${op}_d${d}.cu)
      endif()
      if(op MATCHES "_f32$" AND NOT JFA_SM90_F32)
        continue()
      endif()
      if(EXISTS ${_jfa_k}/sm90/inst/${op}_d${d}.cu)
        list(APPEND JFA_SM90A_SOURCES ${_jfa_k}/sm90/inst/${op}_d${d}.cu)
      endif()
    endforeach()
  endforeach()
  list(APPEND JFA_SOURCES ${_jfa_kernel_sources})
  # A subset: the families decline the head dims left out (host.cuh, head_dim_built).
  set(JFA_KERNEL_DEFINITIONS "")
  if(JFA_SM90_F32)
    list(APPEND JFA_KERNEL_DEFINITIONS JFA_SM90_F32=1)
  endif()
  list(SORT JFA_HEAD_DIMS COMPARE NATURAL)
  if(NOT JFA_HEAD_DIMS STREQUAL "32;64;96;128;160;192;256")
    list(APPEND JFA_KERNEL_DEFINITIONS JFA_HEAD_DIMS_MASK=${_jfa_hd_mask})
    message(STATUS "jfa: tensor-core head dims ${JFA_HEAD_DIMS} only (JFA_HEAD_DIMS)")
  endif()
  # -DJFA_TUNING=ON compiles extra tile shapes chosen by JFA_TUNE_* environment variables
  # (the tuning variants of sm80/tiles.h and sm90/tiles.h; bench/device/run_h200.sh TUNE=1).
  option(JFA_TUNING "Compile alternative kernel tile shapes for tuning" OFF)
  if(JFA_TUNING)
    set_source_files_properties(${_jfa_kernel_sources} ${JFA_SM90A_SOURCES} PROPERTIES COMPILE_DEFINITIONS JFA_TUNING=1)
  endif()
else()
  list(APPEND JFA_SOURCES ${CMAKE_CURRENT_LIST_DIR}/common/no_cuda.c)
endif()
