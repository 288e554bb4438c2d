# Applies RINGRPC_SANITIZE to every target through the interface library ringrpc::build_flags,
# after checking that the compiler accepts the combination (as Seastar's FindSanitizers does).
include(CheckCXXSourceCompiles)

add_library(ringrpc_build_flags INTERFACE)
add_library(ringrpc::build_flags ALIAS ringrpc_build_flags)

target_compile_options(ringrpc_build_flags INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wshadow -Wnon-virtual-dtor -Wold-style-cast>
  $<$<COMPILE_LANGUAGE:C>:-Wall -Wextra>)
if(RINGRPC_WERROR)
  target_compile_options(ringrpc_build_flags INTERFACE -Werror)
endif()

if(RINGRPC_SANITIZE)
  list(JOIN RINGRPC_SANITIZE "," _ringrpc_san)
  set(_ringrpc_san_flags -fsanitize=${_ringrpc_san} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  set(CMAKE_REQUIRED_FLAGS "-fsanitize=${_ringrpc_san}")
  set(CMAKE_REQUIRED_LINK_OPTIONS "-fsanitize=${_ringrpc_san}")
  check_cxx_source_compiles("int main() { return 0; }" RINGRPC_SANITIZERS_WORK)
  unset(CMAKE_REQUIRED_FLAGS)
  unset(CMAKE_REQUIRED_LINK_OPTIONS)
  if(NOT RINGRPC_SANITIZERS_WORK)
    message(FATAL_ERROR "ringrpc: the compiler cannot build with -fsanitize=${_ringrpc_san}")
  endif()
  target_compile_options(ringrpc_build_flags INTERFACE ${_ringrpc_san_flags})
  target_link_options(ringrpc_build_flags INTERFACE -fsanitize=${_ringrpc_san})
  # The codec poisons free pooled buffers for ASan; this tells it the runtime is there.
  if("address" IN_LIST RINGRPC_SANITIZE)
    target_compile_definitions(ringrpc_build_flags INTERFACE RINGRPC_ASAN=1)
  endif()
endif()

# Fuzz builds instrument every library for coverage; only the fuzz binaries link libFuzzer's main.
if(RINGRPC_BUILD_FUZZERS)
  target_compile_options(ringrpc_build_flags INTERFACE -fsanitize=fuzzer-no-link)
endif()
