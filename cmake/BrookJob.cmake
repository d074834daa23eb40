# brook_add_job(<target> <sources>...)
#
# Builds a Brook job from sources that use BROOK_JOB(...):
#   <target>      an executable that runs the job on an embedded MiniCluster (--local)
#   <target>_job  the job as a shared library, for submission to a cluster (brook run)
function(brook_add_job target)
  if(ARGC LESS 2)
    message(FATAL_ERROR "brook_add_job(${target}) needs at least one source file")
  endif()
  add_library(${target}_job SHARED ${ARGN})
  target_link_libraries(${target}_job PRIVATE Brook::jobs)
  set_target_properties(${target}_job PROPERTIES OUTPUT_NAME ${target} PREFIX "lib")

  add_executable(${target} ${ARGN} $<TARGET_OBJECTS:brook_job_main>)
  target_link_libraries(${target} PRIVATE Brook::cluster)
endfunction()
