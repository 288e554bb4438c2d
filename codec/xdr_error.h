// Typed decode and encode errors of the codec.
//
// Every failure names what went wrong, at which byte offset of the message, and the values
// involved, so that a log line or an RPC error reply can say exactly why bytes were refused.
// XdrError is a small trivially-copyable value: recording one never allocates, and formatting
// (to_string) is only done on the cold path. Value type; no threading constraints.
#pragma once

#include <cstdint>
#include <string>

namespace ringrpc::xdr {

enum class XdrErrc : uint8_t {
  kOk = 0,
  kTruncated,        // the message ends before the item does
  kLengthOverMax,    // a declared length or count exceeds the declared maximum
  kLengthOverData,   // a declared length or count exceeds the bytes present
  kBadBool,          // strict: a bool other than 0 or 1
  kBadEnum,          // an enum value that is not a declared member
  kBadDiscriminant,  // a union discriminant with no arm and no default
  kNonZeroPadding,   // strict: padding bytes after opaque/string data are not zero
  kTrailingBytes,    // strict: bytes left over after the message was decoded
  kEmbeddedNul,      // strict: a string contains a NUL byte
  kDepthExceeded,    // nesting deeper than DecodeOptions::max_depth
  kBadValue,         // a value that is well formed but not allowed here (named by `what`)
  kNoSpace,          // encode: the buffer pool or the caller's buffer is exhausted
  kEncodeOverMax,    // encode: a value longer than its declared maximum
  kRecordTooLarge,   // record marking: a record longer than the configured maximum
};

// Stable lower-case name of an error code, for logs and tests ("truncated", "length over max",
// ...).
const char* errc_name(XdrErrc code) noexcept;

struct XdrError {
  XdrErrc code = XdrErrc::kOk;
  uint32_t offset = 0;    // byte offset of the offending item from the start of the message
  uint64_t value = 0;     // the offending value (a length, a discriminant, ...), if any
  uint64_t limit = 0;     // the bound it broke (a maximum, the bytes present), if any
  const char* what = "";  // static string naming the item: "opaque_auth.body", "bool", ...

  bool ok() const noexcept { return code == XdrErrc::kOk; }
  // "xdr: length over max: opaque_auth.body length 401 exceeds maximum 400 at offset 28"
  std::string to_string() const;
};

}  // namespace ringrpc::xdr
