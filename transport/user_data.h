// How the backends tag a kernel event with the object it is for: an operation code, a 24-bit
// generation and a 32-bit slot index packed into 64 bits (STYLE rule 29), never a pointer, so a
// completion that arrives after its stream was freed and its slot reused is recognised as stale.
// Private to transport/.
//
// Threading: pure functions.
#pragma once

#include <cstdint>

namespace ringrpc::transport {

enum class Op : uint8_t {
  kIgnore = 0,  // cancel requests and other completions nobody waits for
  kWake,        // the loop's eventfd
  kAccept,
  kDatagram,
  kStream,      // epoll: any event of a stream
  kRecv,        // io_uring: multishot recv
  kSend,        // io_uring: sendmsg
  kConnect,     // io_uring: poll for a connect to finish
  kShmWake,     // a shared-memory stream's eventfd: the peer wrote, or made room
  kShmControl,  // a shared-memory stream's Unix socket: readable only when the peer goes
};

constexpr uint64_t pack(Op op, uint32_t gen, uint32_t index) noexcept {
  return (uint64_t{static_cast<uint8_t>(op)} << 56) | (uint64_t{gen & 0xffffff} << 32) | index;
}
constexpr Op op_of(uint64_t v) noexcept { return static_cast<Op>(v >> 56); }
constexpr uint32_t gen_of(uint64_t v) noexcept { return static_cast<uint32_t>(v >> 32) & 0xffffff; }
constexpr uint32_t index_of(uint64_t v) noexcept { return static_cast<uint32_t>(v); }

}  // namespace ringrpc::transport
