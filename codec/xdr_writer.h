// XdrWriter: encodes RFC 4506 XDR into pooled buffers, ready to send as one iovec list.
//
// The writer reserves the 4-byte TCP record mark in front of the first buffer and fills it in
// finish(), so a message goes to the socket with no extra copy (xdrpp's message_t, STYLE rule 32).
// A message longer than one buffer continues in further pooled buffers; one longer than
// EncodeOptions::max_fragment is split into fragments, each header written in place. Large opaque
// data can be referenced instead of copied (put_opaque_ref): it becomes its own iovec.
//
// The fast path of every put_* is one bounds check and one store, inline. Nothing allocates per
// message once the OutMessage's vectors have grown to their steady size: reuse OutMessages.
//
// Encoding refuses what the strict decoder would refuse: lengths over the declared maximum, and
// (in strict mode) NUL bytes inside strings. Errors are sticky, as in XdrReader.
//
// Threading: a writer, its OutMessage and its BufferPool belong to one thread.
#pragma once

#include <sys/uio.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <type_traits>
#include <vector>

#include "codec/buffer_pool.h"
#include "codec/byteswap.h"
#include "codec/quadruple.h"
#include "codec/xdr_error.h"
#include "codec/xdr_raw.h"

namespace ringrpc::xdr {

// Largest fragment record marking can describe (31-bit length).
inline constexpr uint32_t kMaxFragment = 0x7fffffff;
inline constexpr uint32_t kLastFragmentBit = 0x80000000;

struct EncodeOptions {
  bool record_mark = true;               // false for UDP: one message per datagram, no marks
  uint32_t max_fragment = kMaxFragment;  // payload bytes per fragment, 1..kMaxFragment
  bool strict = true;                    // refuse NUL bytes inside strings
};

// An encoded message: the iovecs to send and the pooled buffers they point into. Move-only.
// The first few iovecs and the first buffer are stored inline, so the common message (one
// buffer, one iovec) costs no vector operation at all; longer ones spill into vectors, which
// clear() empties but keeps, so a reused OutMessage allocates nothing in the steady state.
// Referenced external data (put_opaque_ref) is not owned: it must outlive the send.
class OutMessage {
 public:
  OutMessage() = default;
  // A moved-from OutMessage is empty (not merely valid): it must not still list iovecs into
  // buffers it no longer owns.
  OutMessage(OutMessage&& o) noexcept { *this = std::move(o); }
  OutMessage& operator=(OutMessage&& o) noexcept {
    if (this != &o) {
      std::copy(o.iov_inline_, o.iov_inline_ + kInlineIov, iov_inline_);
      niov_ = o.niov_;
      iov_spilled_ = std::move(o.iov_spilled_);
      first_buffer_ = std::move(o.first_buffer_);
      more_buffers_ = std::move(o.more_buffers_);
      size_ = o.size_;
      o.iov_spilled_.clear();
      o.more_buffers_.clear();
      o.niov_ = 0;
      o.size_ = 0;
    }
    return *this;
  }
  OutMessage(const OutMessage&) = delete;
  OutMessage& operator=(const OutMessage&) = delete;

  std::span<const iovec> iov() const noexcept {
    if (niov_ <= kInlineIov) return {iov_inline_, niov_};
    return iov_spilled_;
  }
  size_t size() const noexcept { return size_; }  // bytes to send, record marks included
  bool empty() const noexcept { return niov_ == 0 && !first_buffer_; }
  void clear() noexcept {
    first_buffer_.reset();
    if (!more_buffers_.empty()) more_buffers_.clear();
    if (niov_ > kInlineIov) iov_spilled_.clear();
    niov_ = 0;
    size_ = 0;
  }
  // The whole message as contiguous bytes (tests, diagnostics, datagram fallback).
  std::vector<uint8_t> flatten() const;

  // Appends a copy of `m`'s bytes behind this message's, in this message's one buffer, when they
  // fit there. Servers use it to batch small replies to one connection into one buffer: one
  // iovec for the kernel instead of one per reply, and fewer buffers held until sent. Safe while
  // this message is being sent: only bytes past its current end are written.
  bool absorb(const OutMessage& m) noexcept {
    if (niov_ != 1 || !first_buffer_ || !more_buffers_.empty()) return false;
    uint8_t* const base = first_buffer_.data();
    uint8_t* const end = static_cast<uint8_t*>(iov_inline_[0].iov_base) + iov_inline_[0].iov_len;
    if (static_cast<uint8_t*>(iov_inline_[0].iov_base) < base) return false;  // not our buffer
    if (static_cast<size_t>(base + first_buffer_.capacity() - end) < m.size()) return false;
    uint8_t* p = end;
    for (const iovec& v : m.iov()) {
      std::memcpy(p, v.iov_base, v.iov_len);
      p += v.iov_len;
    }
    iov_inline_[0].iov_len += m.size();
    size_ += m.size();
    return true;
  }

 private:
  friend class XdrWriter;
  static constexpr size_t kInlineIov = 4;

  void add_iov(const iovec& v) {
    if (niov_ < kInlineIov) [[likely]] {
      iov_inline_[niov_++] = v;
      return;
    }
    if (niov_ == kInlineIov) iov_spilled_.assign(iov_inline_, iov_inline_ + kInlineIov);
    iov_spilled_.push_back(v);
    ++niov_;
  }
  void add_buffer(Buffer&& b) {
    if (!first_buffer_) [[likely]] {
      first_buffer_ = std::move(b);
    } else {
      more_buffers_.push_back(std::move(b));
    }
  }

  iovec iov_inline_[kInlineIov] = {};
  size_t niov_ = 0;
  std::vector<iovec> iov_spilled_;  // all iovecs, once there are more than kInlineIov
  Buffer first_buffer_;
  std::vector<Buffer> more_buffers_;
  size_t size_ = 0;
};

class XdrWriter {
 public:
  // `out` must be empty; `pool` and `out` must outlive the writer. Options are taken by reference:
  // passed by value, the small struct was built with byte stores and reloaded as words, a
  // store-forwarding stall that cost more than encoding a whole small message.
  XdrWriter(BufferPool& pool, OutMessage& out, const EncodeOptions& options = {}) noexcept
      : pool_(pool),
        out_(out),
        record_mark_(options.record_mark),
        strict_(options.strict),
        max_fragment_(options.max_fragment) {
    // Inline, so that the default options fold into constants at the call site.
    if (!out.empty() || max_fragment_ < 1 || max_fragment_ > kMaxFragment) [[unlikely]] {
      bad_arguments();
    }
    frag_left_ = record_mark_ ? max_fragment_ : SIZE_MAX;
    Buffer b = pool_.acquire();
    if (!b) [[unlikely]] {
      fail(XdrErrc::kNoSpace, pool_.buffer_size(), 0, "message");
      return;
    }
    cur_ = iov_start_ = b.data();
    seg_end_ = cur_ + b.capacity();
    out_.add_buffer(std::move(b));
    if (record_mark_) {
      header_ = cur_;
      cur_ += 4;
    }
    seg_base_ = frag_base_ = cur_;
    const size_t room = static_cast<size_t>(seg_end_ - cur_);
    limit_ = cur_ + (room < frag_left_ ? room : frag_left_);
  }
  XdrWriter(const XdrWriter&) = delete;
  XdrWriter& operator=(const XdrWriter&) = delete;

  bool ok() const noexcept { return err_.ok(); }
  const XdrError& error() const noexcept { return err_; }
  // XDR bytes written so far, record marks excluded.
  size_t size() const noexcept { return bytes_before_ + static_cast<size_t>(cur_ - seg_base_); }

  bool put_u32(uint32_t v) noexcept {
    if (limit_ - cur_ >= 4) [[likely]] {
      store_be32(cur_, v);
      cur_ += 4;
      return true;
    }
    uint8_t b[4];
    store_be32(b, v);
    return put_bytes_slow(b, 4, "unsigned int");
  }
  bool put_i32(int32_t v) noexcept { return put_u32(static_cast<uint32_t>(v)); }
  bool put_u64(uint64_t v) noexcept {
    if (limit_ - cur_ >= 8) [[likely]] {
      store_be64(cur_, v);
      cur_ += 8;
      return true;
    }
    uint8_t b[8];
    store_be64(b, v);
    return put_bytes_slow(b, 8, "unsigned hyper");
  }
  bool put_i64(int64_t v) noexcept { return put_u64(static_cast<uint64_t>(v)); }
  bool put_bool(bool v) noexcept { return put_u32(v ? 1 : 0); }
  bool put_optional(bool present) noexcept { return put_bool(present); }
  bool put_f32(float v) noexcept {
    uint32_t u;
    std::memcpy(&u, &v, 4);
    return put_u32(u);
  }
  bool put_f64(double v) noexcept {
    uint64_t u;
    std::memcpy(&u, &v, 8);
    return put_u64(u);
  }
  bool put_quadruple(const Quadruple& v) noexcept { return put_u64(v.hi) && put_u64(v.lo); }
  template <typename E>
  bool put_enum(E v) noexcept {
    return put_i32(static_cast<int32_t>(v));
  }

  // Fixed-length opaque[n]: the bytes and zero padding.
  bool put_fixed_opaque(std::span<const uint8_t> data) noexcept {
    return put_bytes(data.data(), data.size(), "opaque[]") && put_padding(data.size());
  }
  // Variable-length opaque<max>, copied into the message.
  bool put_opaque(std::span<const uint8_t> data, uint32_t max,
                  const char* what = "opaque<>") noexcept {
    if (data.size() > max) [[unlikely]]
      return fail(XdrErrc::kEncodeOverMax, data.size(), max, what);
    const size_t padded = 4 + data.size() + pad4(data.size());
    if (static_cast<size_t>(limit_ - cur_) >= padded) [[likely]] {
      // Zero the last word first and copy over it: padding without a second copy.
      store_be32(cur_ + padded - 4, 0);
      store_be32(cur_, static_cast<uint32_t>(data.size()));
      if (!data.empty()) std::memcpy(cur_ + 4, data.data(), data.size());
      cur_ += padded;
      return true;
    }
    return put_u32(static_cast<uint32_t>(data.size())) &&
           put_bytes_slow(data.data(), data.size(), what) && put_padding(data.size());
  }
  // Variable-length opaque<max>, referenced: the message points at `data`, which must stay valid
  // and unchanged until the message has been sent. Worth it above a few KiB.
  bool put_opaque_ref(std::span<const uint8_t> data, uint32_t max,
                      const char* what = "opaque<>") noexcept;
  // Raw bytes (no length, no padding), referenced instead of copied, inside `owner`: the message
  // keeps a reference to `owner` until it is sent or cleared, so the bytes stay valid (they must
  // not change meanwhile). What forwards a large payload just received, without copying it.
  bool put_bytes_ref(std::span<const uint8_t> data, const Buffer& owner) noexcept;
  // string<max>.
  bool put_string(std::string_view s, uint32_t max, const char* what = "string<>") noexcept {
    if (strict_ && has_nul(s)) [[unlikely]]
      return fail(XdrErrc::kEmbeddedNul, s.size(), 0, what);
    return put_opaque({reinterpret_cast<const uint8_t*>(s.data()), s.size()}, max, what);
  }
  // The count of a variable-length array, checked against its maximum.
  bool put_count(size_t n, uint32_t max, const char* what = "array<>") noexcept {
    return put_length(n, max, what);
  }
  // n numbers of 4 or 8 bytes: one SIMD byte swap into the buffer when it fits.
  template <typename T>
  bool put_array(const T* src, size_t n) noexcept {
    static_assert(sizeof(T) == 4 || sizeof(T) == 8, "XDR numbers are 4 or 8 bytes");
    static_assert(std::is_trivially_copyable_v<T>);
    const size_t bytes = n * sizeof(T);
    if (static_cast<size_t>(limit_ - cur_) >= bytes) [[likely]] {
      if constexpr (sizeof(T) == 4) {
        swap32_n(src, cur_, n);
      } else {
        swap64_n(src, cur_, n);
      }
      cur_ += bytes;
      return true;
    }
    return put_array_slow(src, n, sizeof(T));
  }

  // n contiguous bytes for a run of fixed-size items the caller stores itself (store_be32, ...),
  // or nullptr when the run would cross a buffer or fragment boundary; then the caller falls back
  // to put_* item by item. The equivalent of rpcgen's XDR_INLINE: one bounds check for the run,
  // and the stores go through a local pointer, which the compiler keeps in a register (stores
  // through uint8_t* may alias this writer's members, so item-by-item puts reload them).
  uint8_t* reserve(size_t n) noexcept {
    if (static_cast<size_t>(limit_ - cur_) < n) [[unlikely]]
      return nullptr;
    uint8_t* p = cur_;
    cur_ += n;
    return p;
  }

  // Raw bytes, no padding (callers that build XDR items themselves).
  bool put_bytes(const uint8_t* p, size_t n, const char* what = "bytes") noexcept {
    if (static_cast<size_t>(limit_ - cur_) >= n) [[likely]] {
      if (n != 0) std::memcpy(cur_, p, n);
      cur_ += n;
      return true;
    }
    return put_bytes_slow(p, n, what);
  }

  // Ends the message: closes the last iovec and writes the final record mark. The OutMessage is
  // then ready to send. Returns ok().
  [[gnu::always_inline]] bool finish() noexcept {
    if (finished_ || !ok()) [[unlikely]]
      return ok();
    finished_ = true;
    sync();
    close_iov();
    if (record_mark_) {
      store_be32(header_, kLastFragmentBit | static_cast<uint32_t>(max_fragment_ - frag_left_));
    }
    limit_ = cur_;
    return true;
  }

  bool fail(XdrErrc code, uint64_t value, uint64_t limit, const char* what) noexcept;

 private:
  bool put_length(size_t n, uint32_t max, const char* what) noexcept {
    if (n > max) [[unlikely]]
      return fail(XdrErrc::kEncodeOverMax, n, max, what);
    return put_u32(static_cast<uint32_t>(n));
  }
  bool put_padding(size_t n) noexcept {
    static constexpr uint8_t kZero[4] = {0, 0, 0, 0};
    return put_bytes(kZero, pad4(n), "padding");
  }
  static bool has_nul(std::string_view s) noexcept { return has_zero_byte(s.data(), s.size()); }

  [[noreturn]] static void bad_arguments() noexcept;
  bool put_bytes_slow(const uint8_t* p, size_t n, const char* what) noexcept;
  bool put_iov_ref(std::span<const uint8_t> data, const char* what) noexcept;
  bool put_array_slow(const void* src, size_t n, size_t item) noexcept;
  // Brings frag_left_ up to date with cur_.
  void sync() noexcept {
    frag_left_ -= static_cast<size_t>(cur_ - frag_base_);
    frag_base_ = cur_;
  }
  void set_limit() noexcept;
  void close_iov() noexcept {
    if (cur_ != iov_start_) {
      const size_t len = static_cast<size_t>(cur_ - iov_start_);
      out_.add_iov({iov_start_, len});
      out_.size_ += len;
    }
    iov_start_ = cur_;
  }
  bool next_segment(const char* what) noexcept;
  bool next_fragment(const char* what) noexcept;

  BufferPool& pool_;
  OutMessage& out_;
  bool record_mark_;
  bool strict_;
  bool finished_ = false;
  uint32_t max_fragment_;
  uint8_t* cur_ = nullptr;
  uint8_t* limit_ = nullptr;  // min(segment end, fragment end): the fast path's bound
  uint8_t* seg_end_ = nullptr;
  uint8_t* seg_base_ = nullptr;  // where XDR bytes counted by size() start in this segment
  uint8_t* iov_start_ = nullptr;
  uint8_t* frag_base_ = nullptr;
  uint8_t* header_ = nullptr;  // the current fragment's record mark
  size_t frag_left_ = 0;       // bytes the current fragment can still take, as of frag_base_
  size_t bytes_before_ = 0;    // XDR bytes in earlier segments and external iovecs
  XdrError err_;
};

}  // namespace ringrpc::xdr
