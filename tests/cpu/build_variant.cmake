# build_variant.cmake - configures and builds the library (and jfa_attn) in a configuration the main
# build does not cover: no OpenMP, no MPI, no CUDA, no tests, warnings as errors, with the main build's
# C compiler. It catches code that compiles only because gcc's -fopenmp (-pthread: _REENTRANT) declares
# POSIX functions under -std=c11 (clang's -fopenmp does not), and variables only an OpenMP pragma reads.
# Run by CTest (test_cpu_build_no_openmp):
#   cmake -DSOURCE=<src> -DWORK=<scratch> -DCC=<c compiler> [-DGENERATOR=<gen>] -P build_variant.cmake
foreach(var SOURCE WORK CC)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "build_variant.cmake: ${var} is not set")
  endif()
endforeach()
file(REMOVE_RECURSE ${WORK})
set(gen)
if(GENERATOR)
  set(gen -G ${GENERATOR})
endif()
function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "build_variant: ${what} failed (exit ${rc})\n${out}${err}")
  endif()
  message(STATUS "${what}: ok")
endfunction()
run_step("configure (no OpenMP, MPI, CUDA, tests; -Werror)" ${CMAKE_COMMAND} -S ${SOURCE} -B ${WORK} ${gen}
         -DCMAKE_C_COMPILER=${CC} -DCMAKE_BUILD_TYPE=Release -DJFA_ENABLE_CUDA=OFF -DJFA_ENABLE_MPI=OFF
         -DCMAKE_DISABLE_FIND_PACKAGE_OpenMP=ON -DCMAKE_DISABLE_FIND_PACKAGE_MPI=ON -DJFA_BUILD_TESTS=OFF
         -DJFA_WARNINGS_AS_ERRORS=ON)
run_step("build jfa, jfa_static, jfa_attn" ${CMAKE_COMMAND} --build ${WORK} --target jfa jfa_static jfa_attn)
run_step("run jfa_attn" ${WORK}/apps/jfa_attn --device cpu --dtype float64 --seq 40 --dim 8 --causal --iters 1 --check full)
