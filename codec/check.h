// Invariant checks for bugs, not for input validation (KJ's ASSERT vs REQUIRE).
//
// RINGRPC_CHECK is active in every build and aborts with the failing expression and location;
// RINGRPC_DCHECK only in debug builds, for checks too costly for the hot path. Never use either on
// bytes that came from a peer: those get a typed error (codec/xdr_error.h).
// Thread-safe: the failure path writes one line to stderr and aborts.
#pragma once

namespace ringrpc::internal {

[[noreturn]] void check_failed(const char* expr, const char* file, int line, const char* msg);

}  // namespace ringrpc::internal

#define RINGRPC_CHECK(cond, msg)                                           \
  do {                                                                     \
    if (!(cond)) [[unlikely]] {                                            \
      ::ringrpc::internal::check_failed(#cond, __FILE__, __LINE__, (msg)); \
    }                                                                      \
  } while (0)

#ifdef NDEBUG
#define RINGRPC_DCHECK(cond, msg) \
  do {                            \
  } while (0)
#else
#define RINGRPC_DCHECK(cond, msg) RINGRPC_CHECK(cond, msg)
#endif
