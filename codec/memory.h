// Cold-path memory: where the codec gets memory for buffer-pool slabs and arena blocks.
//
// The steady-state path never comes here (that is what the pools are for); this is the one
// place that decides which allocator backs them (mimalloc when built with RINGRPC_WITH_MIMALLOC,
// else the C library) and the one counter that benchmarks read to prove "zero allocations per
// message". Thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

namespace ringrpc::internal {

// Returns memory aligned to `align` (a power of two), or nullptr. Never throws.
void* cold_alloc(size_t size, size_t align) noexcept;
void cold_free(void* p) noexcept;

// Number of cold_alloc calls so far in this process.
uint64_t cold_alloc_count() noexcept;

}  // namespace ringrpc::internal
