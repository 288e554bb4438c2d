# One line per artefact in leaf CMake files (LevelDB's leveldb_test(), Seastar's seastar_add_test()).

# ringrpc_add_test(<source> LIBS <libs...> [LABELS <labels...>] [RESOURCE_LOCK <lock>])
# Builds bin/<name> from tests/<source> and registers every TEST() in it with ctest.
function(ringrpc_add_test source)
  cmake_parse_arguments(ARG "" "RESOURCE_LOCK" "LIBS;LABELS" ${ARGN})
  get_filename_component(name ${source} NAME_WE)
  add_executable(${name} ${source})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} GTest::gtest GTest::gtest_main ringrpc::build_flags)
  set(props LABELS "${ARG_LABELS}")
  if(ARG_RESOURCE_LOCK)
    list(APPEND props RESOURCE_LOCK ${ARG_RESOURCE_LOCK})
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 60 PROPERTIES ${props})
endfunction()

# ringrpc_add_bench(<source> NAME <executable> LIBS <libs...>)
function(ringrpc_add_bench source)
  cmake_parse_arguments(ARG "" "NAME" "LIBS" ${ARGN})
  add_executable(${ARG_NAME} ${source})
  target_link_libraries(${ARG_NAME} PRIVATE ${ARG_LIBS} benchmark::benchmark ringrpc::build_flags)
endfunction()

# ringrpc_add_fuzzer(<source> LIBS <libs...> CORPUS <dir>)
# With RINGRPC_BUILD_FUZZERS and Clang: a libFuzzer binary bin/<name>. Always: bin/<name>_corpus, the
# same entry point driven by a plain main() over the seed corpus, registered as a ctest case, so
# every build (gcc included) replays the corpus.
function(ringrpc_add_fuzzer source)
  cmake_parse_arguments(ARG "" "CORPUS" "LIBS" ${ARGN})
  get_filename_component(name ${source} NAME_WE)
  add_executable(${name}_corpus ${source} ${PROJECT_SOURCE_DIR}/tests/fuzz/corpus_main.cc)
  target_link_libraries(${name}_corpus PRIVATE ${ARG_LIBS} ringrpc::build_flags)
  add_test(NAME ${name}.seed_corpus
           COMMAND ${name}_corpus ${CMAKE_CURRENT_SOURCE_DIR}/${ARG_CORPUS})
  set_tests_properties(${name}.seed_corpus PROPERTIES LABELS fuzz)
  if(RINGRPC_BUILD_FUZZERS)
    if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
      message(FATAL_ERROR "RINGRPC_BUILD_FUZZERS needs Clang (libFuzzer)")
    endif()
    add_executable(${name} ${source})
    target_compile_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_options(${name} PRIVATE -fsanitize=fuzzer)
    target_link_libraries(${name} PRIVATE ${ARG_LIBS} ringrpc::build_flags)
  endif()
endfunction()
