// Calls to the host's portmapper (127.0.0.1:111, portmap v2 over UDP) that a server makes to
// register itself, as svc_register/pmap_set do. Private to engine/; the registry issue adds
// rpcbind v3/v4 and the embedded registry.
//
// Threading: blocking calls, from any thread except the shared ClientRuntime's.
#pragma once

#include <cstdint>

#include "engine/rpc_error.h"

namespace ringrpc {

inline constexpr uint32_t kPmapSet = 1;
inline constexpr uint32_t kPmapUnset = 2;

struct PmapMapping {
  uint32_t prog, vers, prot, port;
};

// PMAPPROC_SET or PMAPPROC_UNSET; the bool the registry answered, or why there was no answer.
Result<bool> pmap_call(uint32_t proc, const PmapMapping& m);

}  // namespace ringrpc
