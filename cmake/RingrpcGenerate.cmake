# ringrpc_generate(<target> FILES <a.x>... [NAMESPACE <ns>] [OUTPUT_DIR <dir>]
#                  [IMPORTS <file.x[=ns]>...] [DEFINES <NAME[=VALUE]>...] [INCLUDE_DIRS <dir>...])
#
# Compiles .x files with ringrpc-gen as part of the build and adds the generated sources to the
# static library <target> (created if it does not exist), which links ringrpc::codec and puts the
# generated headers on its users' include path. Each file's code goes into NAMESPACE, or by
# default a namespace named after the file.
#
#   ringrpc_generate(square_proto FILES square.x)
#   target_link_libraries(square_server PRIVATE square_proto)   # then #include "square.h"
function(ringrpc_generate target)
  cmake_parse_arguments(G "INSIDE_ENGINE" "NAMESPACE;OUTPUT_DIR" "FILES;IMPORTS;DEFINES;INCLUDE_DIRS" ${ARGN})
  if(NOT G_FILES)
    message(FATAL_ERROR "ringrpc_generate(${target}): no FILES")
  endif()
  if(NOT G_OUTPUT_DIR)
    set(G_OUTPUT_DIR ${CMAKE_CURRENT_BINARY_DIR}/${target}_generated)
  endif()
  file(MAKE_DIRECTORY ${G_OUTPUT_DIR})

  set(args)
  set(deps ringrpc-gen)
  if(G_NAMESPACE)
    list(APPEND args --namespace ${G_NAMESPACE})
  endif()
  foreach(imp IN LISTS G_IMPORTS)
    list(APPEND args --import ${imp})
    string(REGEX REPLACE "=.*$" "" imp_file "${imp}")
    list(APPEND deps ${imp_file})
  endforeach()
  foreach(def IN LISTS G_DEFINES)
    list(APPEND args -D ${def})
  endforeach()
  foreach(dir IN LISTS G_INCLUDE_DIRS)
    list(APPEND args -I ${dir})
  endforeach()

  set(sources)
  foreach(x IN LISTS G_FILES)
    get_filename_component(abs ${x} ABSOLUTE)
    get_filename_component(base ${x} NAME_WE)
    add_custom_command(
      OUTPUT ${G_OUTPUT_DIR}/${base}.h ${G_OUTPUT_DIR}/${base}.cc
      COMMAND ringrpc-gen ${args} -o ${G_OUTPUT_DIR} ${abs}
      DEPENDS ${abs} ${deps}
      COMMENT "ringrpc-gen ${x}"
      VERBATIM)
    list(APPEND sources ${G_OUTPUT_DIR}/${base}.h ${G_OUTPUT_DIR}/${base}.cc)
  endforeach()

  if(TARGET ${target})
    target_sources(${target} PRIVATE ${sources})
  else()
    add_library(${target} STATIC ${sources})
  endif()
  target_include_directories(${target} PUBLIC ${G_OUTPUT_DIR})
  # INSIDE_ENGINE: the engine's own protocols (the registry) are compiled into the engine.
  if(NOT G_INSIDE_ENGINE)
    target_link_libraries(${target} PUBLIC ringrpc::engine)
  endif()
endfunction()
