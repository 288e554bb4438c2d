// XdrReader: a bounded cursor that decodes RFC 4506 XDR from bytes received from a peer.
//
// Every byte is hostile until decoded. The reader checks every length against the declared
// maximum and against the bytes actually present *before* it allocates or loops, limits nesting
// depth, and reports the first failure as a typed XdrError with the offset it occurred at. It
// never throws and never reads outside the span it was given.
//
// Opaque and string data decode to views into the input (zero copy); owning overloads copy.
// Arrays of 32/64-bit numbers are byte-swapped with the SIMD kernels (codec/byteswap.h) into
// caller memory or an Arena, or in place when the reader was made over mutable bytes.
//
// Strict mode (the default) rejects what RFC 4506 forbids: non-zero padding, bools other than 0/1,
// enum values that are not members, NUL bytes inside strings, and (in finish()) trailing bytes.
// Lenient mode accepts exactly what libtirpc accepts (reference/onc-rpc.md 5.3); codec/DESIGN.md
// lists every difference.
//
// Errors are sticky: after the first failure every later get_* returns false, and the first
// error is kept. Callers may chain `r.get_u32(a) && r.get_i32(b)` or decode blindly and check
// ok() once at the end; the work done after a failure is bounded by the input size.
//
// Threading: a reader is used by one thread; it does not own the bytes, which must outlive it and
// every view it hands out.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "codec/arena.h"
#include "codec/byteswap.h"
#include "codec/check.h"
#include "codec/quadruple.h"
#include "codec/xdr_error.h"
#include "codec/xdr_raw.h"

namespace ringrpc::xdr {

struct DecodeOptions {
  bool strict = true;
  uint32_t max_depth = 64;  // nesting of structs/unions/optional data a decoder may enter
};

class XdrReader {
 public:
  explicit XdrReader(std::span<const uint8_t> data, DecodeOptions options = {}) noexcept
      : begin_(data.data()), cur_(data.data()), end_(data.data() + data.size()), opts_(options) {}

  // A reader over bytes it may rewrite: get_array_in_place swaps numbers inside the buffer. The
  // bytes are no longer valid XDR afterwards.
  static XdrReader in_place(std::span<uint8_t> data, DecodeOptions options = {}) noexcept {
    XdrReader r(std::span<const uint8_t>(data.data(), data.size()), options);
    r.writable_ = data.data();
    return r;
  }

  bool ok() const noexcept { return err_.ok(); }
  const XdrError& error() const noexcept { return err_; }
  const DecodeOptions& options() const noexcept { return opts_; }
  size_t offset() const noexcept { return static_cast<size_t>(cur_ - begin_); }
  size_t remaining() const noexcept { return static_cast<size_t>(end_ - cur_); }
  // The bytes not yet decoded, e.g. the procedure arguments after an RPC call header.
  std::span<const uint8_t> rest() const noexcept { return {cur_, end_}; }

  bool get_u32(uint32_t& v, const char* what = "unsigned int") noexcept {
    if (remaining() < 4) [[unlikely]] {
      v = 0;  // outputs are always written, so callers need not initialise them
      return truncated(4, what);
    }
    v = load_be32(cur_);
    cur_ += 4;
    return true;
  }
  bool get_i32(int32_t& v, const char* what = "int") noexcept {
    uint32_t u = 0;
    const bool ok = get_u32(u, what);
    v = static_cast<int32_t>(u);
    return ok;
  }
  bool get_u64(uint64_t& v, const char* what = "unsigned hyper") noexcept {
    if (remaining() < 8) [[unlikely]] {
      v = 0;
      return truncated(8, what);
    }
    v = load_be64(cur_);
    cur_ += 8;
    return true;
  }
  bool get_i64(int64_t& v, const char* what = "hyper") noexcept {
    uint64_t u = 0;
    const bool ok = get_u64(u, what);
    v = static_cast<int64_t>(u);
    return ok;
  }
  bool get_f32(float& v, const char* what = "float") noexcept {
    uint32_t u = 0;
    const bool ok = get_u32(u, what);
    std::memcpy(&v, &u, 4);
    return ok;
  }
  bool get_f64(double& v, const char* what = "double") noexcept {
    uint64_t u = 0;
    const bool ok = get_u64(u, what);
    std::memcpy(&v, &u, 8);
    return ok;
  }
  bool get_quadruple(Quadruple& v, const char* what = "quadruple") noexcept {
    if (remaining() < 16) [[unlikely]] {
      v = {};
      return truncated(16, what);
    }
    v.hi = load_be64(cur_);
    v.lo = load_be64(cur_ + 8);
    cur_ += 16;
    return true;
  }
  // Strict: 0 or 1 only. Lenient (libtirpc): any non-zero value is TRUE.
  bool get_bool(bool& v, const char* what = "bool") noexcept {
    const size_t at = offset();
    uint32_t u = 0;
    const bool ok = get_u32(u, what);
    v = ok && u == 1;
    if (!ok) return false;
    if (u > 1) [[unlikely]] {
      if (opts_.strict) return fail_at(at, XdrErrc::kBadBool, u, 1, what);
      v = true;
    }
    return true;
  }
  // The "present" flag of optional data (T *name): a bool on the wire.
  bool get_optional(bool& present, const char* what = "optional") noexcept {
    return get_bool(present, what);
  }

  // An enum: `is_member(int32_t)` says whether the value is declared. Strict mode rejects other
  // values; lenient mode passes them through, as libtirpc's xdr_enum does.
  template <typename E, typename IsMember>
  bool get_enum(E& v, IsMember is_member, const char* what = "enum") noexcept {
    const size_t at = offset();
    int32_t i = 0;
    const bool ok = get_i32(i, what);
    if (!ok || (opts_.strict && !is_member(i))) [[unlikely]] {
      v = E{};
      return ok ? fail_at(at, XdrErrc::kBadEnum, static_cast<uint32_t>(i), 0, what) : false;
    }
    v = static_cast<E>(i);
    return true;
  }

  // Fixed-length opaque[n]: n bytes plus padding, as a view into the input.
  bool get_fixed_opaque(std::span<const uint8_t>& v, size_t n,
                        const char* what = "opaque[]") noexcept {
    const uint8_t* p = nullptr;
    v = {};
    if (!take_padded(n, p, offset(), what)) return false;
    v = {p, n};
    return true;
  }
  // Fixed-length opaque[n] copied into dst[0..n).
  bool get_fixed_opaque(uint8_t* dst, size_t n, const char* what = "opaque[]") noexcept {
    const uint8_t* p = nullptr;
    if (!take_padded(n, p, offset(), what)) return false;
    std::memcpy(dst, p, n);
    return true;
  }
  // Variable-length opaque<max>, as a view into the input.
  bool get_opaque(std::span<const uint8_t>& v, uint32_t max,
                  const char* what = "opaque<>") noexcept {
    const uint8_t* p = nullptr;
    uint32_t n = 0;
    const size_t at = offset();
    v = {};
    if (!get_length(n, max, what) || !take_padded(n, p, at, what)) return false;
    v = {p, n};
    return true;
  }
  // Variable-length opaque<max>, copied. Allocates only after the length has been checked.
  bool get_opaque(std::vector<uint8_t>& v, uint32_t max, const char* what = "opaque<>");
  // string<max>, as a view into the input.
  bool get_string(std::string_view& v, uint32_t max, const char* what = "string<>") noexcept {
    const uint8_t* p = nullptr;
    uint32_t n = 0;
    const size_t at = offset();
    v = {};
    if (!get_length(n, max, what) || !take_padded(n, p, at, what)) return false;
    if (opts_.strict && has_nul(p, n)) [[unlikely]] {
      return fail_at(at, XdrErrc::kEmbeddedNul, n, 0, what);
    }
    v = {reinterpret_cast<const char*>(p), n};
    return true;
  }
  // string<max>, copied.
  bool get_string(std::string& v, uint32_t max, const char* what = "string<>");

  // The count of a variable-length array T name<max>. Checks count <= max and that count items
  // of at least min_item_bytes each can be present, so a caller's loop is bounded by the input.
  bool get_count(uint32_t& n, uint32_t max, size_t min_item_bytes = 4,
                 const char* what = "array<>") noexcept {
    const size_t at = offset();
    if (!get_u32(n, what)) return false;
    const uint32_t count = n;
    if (count > max) [[unlikely]] {
      n = 0;
      return fail_at(at, XdrErrc::kLengthOverMax, count, max, what);
    }
    if (uint64_t{count} * min_item_bytes > remaining()) [[unlikely]] {
      n = 0;
      return fail_at(at, XdrErrc::kLengthOverData, uint64_t{count} * min_item_bytes, remaining(),
                     what);
    }
    return true;
  }

  // n numbers (int, unsigned int, float, hyper, unsigned hyper, double, or enums of 4 bytes)
  // into dst[0..n): one SIMD byte swap instead of n loads.
  template <typename T>
  bool get_array(T* dst, size_t n, const char* what = "array") noexcept {
    static_assert(sizeof(T) == 4 || sizeof(T) == 8, "XDR numbers are 4 or 8 bytes");
    static_assert(std::is_trivially_copyable_v<T>);
    if (n > remaining() / sizeof(T)) [[unlikely]]
      return truncated(n * sizeof(T), what);
    swap_into(cur_, dst, n);
    cur_ += n * sizeof(T);
    return true;
  }
  // n numbers into memory from `arena`; the view stays valid until the arena is reset.
  template <typename T>
  bool get_array(std::span<const T>& v, size_t n, Arena& arena,
                 const char* what = "array") noexcept {
    static_assert(sizeof(T) == 4 || sizeof(T) == 8, "XDR numbers are 4 or 8 bytes");
    if (n > remaining() / sizeof(T)) [[unlikely]]
      return truncated(n * sizeof(T), what);
    if (n == 0) {  // nothing to allocate: a fresh arena would take a whole block for it
      v = {};
      return true;
    }
    T* dst = arena.allocate_array<T>(n);
    if (dst == nullptr && n != 0) [[unlikely]]
      return no_space(n * sizeof(T), what);
    swap_into(cur_, dst, n);
    cur_ += n * sizeof(T);
    v = {dst, n};
    return true;
  }
  // n 4-byte numbers swapped inside the input buffer (reader made with in_place()), no copy at
  // all. 8-byte numbers are not offered: XDR aligns items to 4 bytes only.
  template <typename T>
  bool get_array_in_place(std::span<const T>& v, size_t n, const char* what = "array") noexcept;

  // The next n bytes, for a run of fixed-size items the caller loads itself (load_be32, ...), or
  // nullptr with a truncation error. One bounds check for the whole run (rpcgen's XDR_INLINE).
  const uint8_t* take(size_t n, const char* what = "bytes") noexcept {
    if (remaining() < n) [[unlikely]] {
      truncated(n, what);
      return nullptr;
    }
    const uint8_t* p = cur_;
    cur_ += n;
    return p;
  }

  // Skips n bytes (no padding added).
  bool skip(size_t n, const char* what = "bytes") noexcept {
    if (remaining() < n) [[unlikely]]
      return truncated(n, what);
    cur_ += n;
    return true;
  }

  // Call after the last item of a message. Strict mode fails when bytes are left over.
  bool finish(const char* what = "message") noexcept {
    if (!ok()) return false;
    if (cur_ != end_ && opts_.strict) [[unlikely]] {
      return fail_at(offset(), XdrErrc::kTrailingBytes, remaining(), 0, what);
    }
    return true;
  }

  // Records a failure found by a higher-level decoder (a union without a matching arm, a value a
  // protocol forbids) at `at`, keeps the first error, and stops the reader. Always returns false.
  bool fail_at(size_t at, XdrErrc code, uint64_t value, uint64_t limit, const char* what) noexcept;
  bool fail(XdrErrc code, uint64_t value, uint64_t limit, const char* what) noexcept {
    return fail_at(offset(), code, value, limit, what);
  }

  // Scope guard for one level of nesting; false when DecodeOptions::max_depth is reached.
  class DepthGuard {
   public:
    DepthGuard(XdrReader& r, const char* what) noexcept : r_(r), ok_(r.enter(what)) {}
    ~DepthGuard() {
      if (ok_) --r_.depth_;
    }
    DepthGuard(const DepthGuard&) = delete;
    DepthGuard& operator=(const DepthGuard&) = delete;
    explicit operator bool() const noexcept { return ok_; }

   private:
    XdrReader& r_;
    bool ok_;
  };

 private:
  bool get_length(uint32_t& n, uint32_t max, const char* what) noexcept {
    const size_t at = offset();
    if (!get_u32(n, what)) return false;
    if (n > max) [[unlikely]]
      return fail_at(at, XdrErrc::kLengthOverMax, n, max, what);
    return true;
  }
  // n data bytes plus padding; checks the padding is zero in strict mode. `at` is where the item
  // starts (its length word, if it has one), for the error.
  bool take_padded(size_t n, const uint8_t*& p, size_t at, const char* what) noexcept {
    const size_t padded = n + pad4(n);
    if (padded > remaining() || padded < n) [[unlikely]] {
      return fail_at(at, XdrErrc::kLengthOverData, n, remaining(), what);
    }
    p = cur_;
    if (opts_.strict && padded != n) {
      // One load of the last word; the pad bytes are its low-order (last) bytes.
      const uint32_t last = load_be32(cur_ + padded - 4);
      const uint32_t pad_bits = last & ((1u << (8 * (padded - n))) - 1);
      if (pad_bits != 0) [[unlikely]] {
        size_t i = n;
        while (cur_[i] == 0) ++i;
        return fail_at(offset() + i, XdrErrc::kNonZeroPadding, cur_[i], 0, what);
      }
    }
    cur_ += padded;
    return true;
  }
  template <typename T>
  static void swap_into(const uint8_t* src, T* dst, size_t n) noexcept {
    if constexpr (sizeof(T) == 4) {
      swap32_n(src, dst, n);
    } else {
      swap64_n(src, dst, n);
    }
  }
  static bool has_nul(const uint8_t* p, size_t n) noexcept { return has_zero_byte(p, n); }
  bool enter(const char* what) noexcept {
    if (depth_ >= opts_.max_depth) [[unlikely]] {
      return fail(XdrErrc::kDepthExceeded, depth_ + 1, opts_.max_depth, what);
    }
    ++depth_;
    return true;
  }
  bool truncated(size_t need, const char* what) noexcept {
    return fail(XdrErrc::kTruncated, need, remaining(), what);
  }
  bool no_space(size_t need, const char* what) noexcept {
    return fail(XdrErrc::kNoSpace, need, 0, what);
  }

  const uint8_t* begin_;
  const uint8_t* cur_;
  const uint8_t* end_;
  uint8_t* writable_ = nullptr;  // same bytes as begin_, when made with in_place()
  DecodeOptions opts_;
  uint32_t depth_ = 0;
  XdrError err_;
};

template <typename T>
bool XdrReader::get_array_in_place(std::span<const T>& v, size_t n, const char* what) noexcept {
  static_assert(sizeof(T) == 4, "in-place decoding is offered for 4-byte numbers only");
  RINGRPC_CHECK(writable_ != nullptr, "get_array_in_place needs a reader made with in_place()");
  if (n > remaining() / 4) [[unlikely]]
    return truncated(n * 4, what);
  uint8_t* p = writable_ + offset();
  // XDR keeps items 4-byte aligned relative to the message; the caller must place the message.
  RINGRPC_CHECK(reinterpret_cast<uintptr_t>(p) % alignof(T) == 0,
                "get_array_in_place needs the message to start 4-byte aligned");
  swap32_n(p, p, n);
  v = {reinterpret_cast<const T*>(p), n};
  cur_ += n * 4;
  return true;
}

}  // namespace ringrpc::xdr
