# brook_add_job(<target> <source>... [LINK_LIBRARIES <library>...])
#
# Builds a Brook job from sources that use BROOK_JOB(...):
#   <target>_job  the job as a shared library, lib<target>.so, for submission to a cluster
#                 (`brook run lib<target>.so`)
#   <target>      an executable that runs the job on an embedded MiniCluster (`./<target> --local`)
#
# The same file serves Brook's own tree (examples/) and the installed package, where
# find_package(Brook) includes it:
#
#   find_package(Brook REQUIRED)
#   brook_add_job(myjob myjob.cc)
#
# The sources are compiled once, as part of <target>_job, and the executable links those same
# object files with Brook's job main. So compile settings (include directories, definitions)
# go on <target>_job; libraries the sources need go in LINK_LIBRARIES, or must be linked to
# both targets.
#
# The job library is self-contained: Brook's static, position-independent component libraries
# are linked into it, so loading it (dlopen RTLD_NOW) resolves no Brook symbol from the loading
# process. Its code is built with hidden visibility and the static libraries' symbols are kept
# out of its dynamic symbol table (--exclude-libs): the library exports brook_job_entry and
# nothing else of Brook, so it can neither interpose on nor be interposed by the Brook of the
# process that loads it. Shared libraries it needs (libstdc++, Cap'n Proto, LMDB, Boost) are
# ordinary dependencies, shared with the loading process.
include_guard(GLOBAL)

function(brook_add_job target)
  cmake_parse_arguments(PARSE_ARGV 1 ARG "" "" "LINK_LIBRARIES")
  set(sources ${ARG_UNPARSED_ARGUMENTS})
  if(NOT sources)
    message(FATAL_ERROR "brook_add_job(${target}) needs at least one source file")
  endif()
  # In Brook's tree the job main is the object library brook_job_main; in the installed
  # package it is the imported Brook::job_main.
  if(TARGET brook_job_main_web)
    set(job_main brook_job_main_web)
  elseif(TARGET brook_job_main)
    set(job_main brook_job_main)
  elseif(TARGET Brook::job_main)
    set(job_main Brook::job_main)
  else()
    message(FATAL_ERROR "brook_add_job(${target}): Brook's targets are not defined; "
                        "call find_package(Brook REQUIRED) first")
  endif()

  add_library(${target}_job SHARED ${sources})
  target_link_libraries(${target}_job PRIVATE Brook::jobs ${ARG_LINK_LIBRARIES})
  set_target_properties(${target}_job PROPERTIES
    OUTPUT_NAME ${target}
    PREFIX "lib"
    CXX_VISIBILITY_PRESET hidden
    VISIBILITY_INLINES_HIDDEN ON)
  target_link_options(${target}_job PRIVATE "LINKER:--exclude-libs,ALL")
  # Every symbol resolved when the library is linked, not when a job manager loads it. Not
  # with sanitizers: their runtime is provided by the executable that loads the library.
  if(NOT BROOK_SANITIZE AND NOT Brook_SANITIZE)
    target_link_options(${target}_job PRIVATE "LINKER:--no-undefined")
  endif()

  add_executable(${target} $<TARGET_OBJECTS:${target}_job> $<TARGET_OBJECTS:${job_main}>)
  target_link_libraries(${target} PRIVATE Brook::cluster ${ARG_LINK_LIBRARIES})
  if(job_main STREQUAL "brook_job_main_web")
    target_link_libraries(${target} PRIVATE brook_server)
  endif()
endfunction()
