# run_consumer.cmake - installs the built jfa into a temporary prefix, then
# configures, builds and runs tests/consumer against it with find_package(jfa) (jfa::jfa, and
# jfa::jfa_static in a build without CUDA).
# Run by CTest (test_cpu_consumer):
#   cmake -DJFA_BUILD_DIR=<build> -DJFA_CONSUMER_SOURCE=<src>/tests/consumer
#         -DJFA_WORK_DIR=<scratch> [-DJFA_GENERATOR=<gen>] -P run_consumer.cmake
foreach(var JFA_BUILD_DIR JFA_CONSUMER_SOURCE JFA_WORK_DIR)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "run_consumer.cmake: ${var} is not set")
  endif()
endforeach()

set(prefix ${JFA_WORK_DIR}/prefix)
set(build ${JFA_WORK_DIR}/build)
file(REMOVE_RECURSE ${JFA_WORK_DIR})

function(run_step what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  message(STATUS "${what}: exit ${rc}\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer test: ${what} failed (exit ${rc})")
  endif()
endfunction()

set(gen)
if(JFA_GENERATOR)
  set(gen -G ${JFA_GENERATOR})
endif()
run_step("install jfa" ${CMAKE_COMMAND} --install ${JFA_BUILD_DIR} --prefix ${prefix})
run_step("configure consumer" ${CMAKE_COMMAND} -S ${JFA_CONSUMER_SOURCE} -B ${build} ${gen}
         -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run_step("build consumer" ${CMAKE_COMMAND} --build ${build})
run_step("run consumer" ${build}/jfa_consumer)
if(EXISTS ${build}/jfa_consumer_static)
  run_step("run consumer (jfa::jfa_static)" ${build}/jfa_consumer_static)
endif()
