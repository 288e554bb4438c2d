// Counts heap allocations, for tests and benchmarks that prove "zero allocations per message".
// Linking alloc_counter.cc replaces the global operator new/delete of the whole binary with
// counting versions over malloc/free; the count adds the codec's own cold-path allocations
// (pool slabs, arena blocks), so nothing the codec allocates escapes it. Thread-safe.
#pragma once

#include <cstdint>

namespace ringrpc::testing {

uint64_t allocation_count() noexcept;

}  // namespace ringrpc::testing
