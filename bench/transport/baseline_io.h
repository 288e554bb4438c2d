// What the shared-memory baselines (ringrpc-shm-bench between threads, ringrpc-pingpong between
// processes) do the same way: spin politely, and move exactly n bytes over a blocking socket.
//
// Threading: pure functions; any thread.
#pragma once

#include <unistd.h>

#include <cstddef>
#include <cstdint>

namespace ringrpc::bench {

inline void cpu_relax() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

// Reads (rd) or writes exactly n bytes; false when the peer is gone or the call fails.
inline bool full_io(bool rd, int fd, uint8_t* p, size_t n) noexcept {
  while (n > 0) {
    const ssize_t k = rd ? ::read(fd, p, n) : ::write(fd, p, n);
    if (k <= 0) return false;
    p += k;
    n -= static_cast<size_t>(k);
  }
  return true;
}

}  // namespace ringrpc::bench
