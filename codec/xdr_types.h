// The value types that ringrpc-gen's generated code is made of: bounded containers that know the
// maximum their .x declaration gave them, an owning pointer with value semantics for optional
// data, the exception a union accessor throws for the wrong arm, and the Printer behind the
// generated to_string()/to_json().
//
// Bounds are enforced where bytes cross the wire, not on every push_back: encoding a container
// longer than its maximum fails with kEncodeOverMax, decoding one fails with kLengthOverMax
// (codec/xdr_writer.h, codec/xdr_reader.h). The containers derive from the standard ones so that
// every algorithm and API that takes a std::string or std::vector takes them too (xdrpp's
// xstring/xvector do the same).
//
// Threading: plain value types; the usual rules of the standard containers apply.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

#include "codec/quadruple.h"

namespace ringrpc::xdr {

// `<>` in a declaration: the largest count a 32-bit length can carry.
inline constexpr uint32_t kUnbounded = 0xffffffff;

// string<Max>.
template <uint32_t Max = kUnbounded>
class String : public std::string {
 public:
  static constexpr uint32_t kMax = Max;
  using std::string::string;
  String() = default;
  String(const std::string& s) : std::string(s) {}                 // NOLINT: implicit by design
  String(std::string&& s) noexcept : std::string(std::move(s)) {}  // NOLINT
  String(std::string_view s) : std::string(s) {}                   // NOLINT
  static constexpr uint32_t max_size() noexcept { return Max; }
};

// opaque<Max>.
template <uint32_t Max = kUnbounded>
class Opaque : public std::vector<uint8_t> {
 public:
  static constexpr uint32_t kMax = Max;
  using std::vector<uint8_t>::vector;
  Opaque() = default;
  Opaque(const std::vector<uint8_t>& v) : std::vector<uint8_t>(v) {}                 // NOLINT
  Opaque(std::vector<uint8_t>&& v) noexcept : std::vector<uint8_t>(std::move(v)) {}  // NOLINT
  static constexpr uint32_t max_size() noexcept { return Max; }
};

// T name<Max>. T may be incomplete where Vec<T> is declared (recursive types), as for vector.
template <typename T, uint32_t Max = kUnbounded>
class Vec : public std::vector<T> {
 public:
  static constexpr uint32_t kMax = Max;
  using std::vector<T>::vector;
  Vec() = default;
  static constexpr uint32_t max_size() noexcept { return Max; }
};

// Optional data (`T *name`): owns at most one T and copies it deeply, so generated structs stay
// regular values (copyable, comparable). T may be incomplete where Ptr<T> is declared.
template <typename T>
class Ptr {
 public:
  Ptr() noexcept = default;
  Ptr(std::nullptr_t) noexcept {}  // NOLINT: implicit, as for unique_ptr
  explicit Ptr(std::unique_ptr<T> p) noexcept : p_(std::move(p)) {}
  Ptr(const Ptr& o) : p_(o.p_ ? std::make_unique<T>(*o.p_) : nullptr) {}
  Ptr(Ptr&&) noexcept = default;
  Ptr& operator=(const Ptr& o) {
    if (this != &o) p_ = o.p_ ? std::make_unique<T>(*o.p_) : nullptr;
    return *this;
  }
  Ptr& operator=(Ptr&&) noexcept = default;
  Ptr& operator=(std::nullptr_t) noexcept {
    p_.reset();
    return *this;
  }
  ~Ptr() = default;

  template <typename... Args>
  T& emplace(Args&&... args) {
    p_ = std::make_unique<T>(std::forward<Args>(args)...);
    return *p_;
  }
  void reset() noexcept { p_.reset(); }
  T* get() const noexcept { return p_.get(); }
  T* operator->() const noexcept { return p_.get(); }
  T& operator*() const noexcept { return *p_; }
  explicit operator bool() const noexcept { return p_ != nullptr; }
  // Gives up ownership without destroying (iterative teardown of long lists).
  std::unique_ptr<T> release_owned() noexcept { return std::move(p_); }

  friend bool operator==(const Ptr& a, const Ptr& b) {
    if (!a.p_ || !b.p_) return !a.p_ && !b.p_;
    return *a.p_ == *b.p_;
  }

 private:
  std::unique_ptr<T> p_;
};

// Thrown by a generated union's accessor when the union holds another arm: a programming error,
// like std::bad_variant_access.
class WrongArm : public std::logic_error {
 public:
  WrongArm(const char* union_name, const char* arm_name)
      : std::logic_error(std::string("union ") + union_name + ": arm " + arm_name +
                         " is not the selected arm") {}
};

// Equality of decoded views: spans compare element by element, optional data through the
// pointer. Owning types use their own operator==.
template <typename T>
bool view_eq(const T& a, const T& b) {
  return a == b;
}
template <typename T>
bool view_eq(std::span<const T> a, std::span<const T> b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!view_eq(a[i], b[i])) return false;
  }
  return true;
}
template <typename T>
bool view_eq(const T* a, const T* b) {
  if (a == nullptr || b == nullptr) return a == b;
  return view_eq(*a, *b);
}
template <typename T, size_t N>
bool view_eq(const std::array<T, N>& a, const std::array<T, N>& b) {
  for (size_t i = 0; i < N; ++i) {
    if (!view_eq(a[i], b[i])) return false;
  }
  return true;
}

// Writes values as one line of text for logs and tools, or as JSON. Generated print functions
// call it item by item; it owns the separators, quoting and escaping.
class Printer {
 public:
  explicit Printer(bool json) : json_(json) {}

  void begin_object() {
    item();
    out_ += '{';
    first_ = true;
  }
  void end_object() {
    out_ += '}';
    first_ = false;
  }
  void begin_array() {
    item();
    out_ += '[';
    first_ = true;
  }
  void end_array() {
    out_ += ']';
    first_ = false;
  }
  // The next value is the member `name` of the current object.
  void key(std::string_view name);

  void value(bool v);
  void value(int64_t v);
  void value(uint64_t v);
  void value(int32_t v) { value(int64_t{v}); }
  void value(uint32_t v) { value(uint64_t{v}); }
  void value(int16_t v) { value(int64_t{v}); }
  void value(uint16_t v) { value(uint64_t{v}); }
  void value(int8_t v) { value(int64_t{v}); }
  void value(uint8_t v) { value(uint64_t{v}); }
  void value(double v);
  void value(float v) { value(static_cast<double>(v)); }
  void value(const Quadruple& v);
  void string(std::string_view s);
  void bytes(std::span<const uint8_t> b);
  // An enum: its member name, or the number when it is not a member (lenient decoding).
  void enumerator(const char* name, int64_t v);
  void null();

  const std::string& str() const& noexcept { return out_; }
  std::string str() && noexcept { return std::move(out_); }

 private:
  void item() {
    if (!first_ && !after_key_) out_ += json_ ? "," : ", ";
    first_ = false;
    after_key_ = false;
  }

  std::string out_;
  bool json_;
  bool first_ = true;
  bool after_key_ = false;
};

}  // namespace ringrpc::xdr
