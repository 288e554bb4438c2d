#include "codec/xdr_error.h"

#include <cinttypes>
#include <cstdio>

namespace ringrpc::xdr {

const char* errc_name(XdrErrc code) noexcept {
  switch (code) {
    case XdrErrc::kOk:
      return "ok";
    case XdrErrc::kTruncated:
      return "truncated";
    case XdrErrc::kLengthOverMax:
      return "length over max";
    case XdrErrc::kLengthOverData:
      return "length over data";
    case XdrErrc::kBadBool:
      return "bad bool";
    case XdrErrc::kBadEnum:
      return "bad enum";
    case XdrErrc::kBadDiscriminant:
      return "bad discriminant";
    case XdrErrc::kNonZeroPadding:
      return "non-zero padding";
    case XdrErrc::kTrailingBytes:
      return "trailing bytes";
    case XdrErrc::kEmbeddedNul:
      return "embedded nul";
    case XdrErrc::kDepthExceeded:
      return "depth exceeded";
    case XdrErrc::kBadValue:
      return "bad value";
    case XdrErrc::kNoSpace:
      return "no space";
    case XdrErrc::kEncodeOverMax:
      return "encode over max";
    case XdrErrc::kRecordTooLarge:
      return "record too large";
  }
  return "unknown";
}

std::string XdrError::to_string() const {
  char detail[160];
  switch (code) {
    case XdrErrc::kOk:
      return "xdr: ok";
    case XdrErrc::kTruncated:
      std::snprintf(detail, sizeof detail, "%s needs %" PRIu64 " bytes, %" PRIu64 " present", what,
                    value, limit);
      break;
    case XdrErrc::kLengthOverMax:
    case XdrErrc::kEncodeOverMax:
      std::snprintf(detail, sizeof detail, "%s length %" PRIu64 " exceeds maximum %" PRIu64, what,
                    value, limit);
      break;
    case XdrErrc::kLengthOverData:
      std::snprintf(detail, sizeof detail,
                    "%s declares %" PRIu64 " bytes but only %" PRIu64 " are present", what, value,
                    limit);
      break;
    case XdrErrc::kRecordTooLarge:
      std::snprintf(detail, sizeof detail,
                    "%s of %" PRIu64 " bytes exceeds the maximum of %" PRIu64, what, value, limit);
      break;
    case XdrErrc::kDepthExceeded:
      std::snprintf(detail, sizeof detail, "%s nests deeper than %" PRIu64, what, limit);
      break;
    case XdrErrc::kTrailingBytes:
      std::snprintf(detail, sizeof detail, "%" PRIu64 " bytes left after %s", value, what);
      break;
    case XdrErrc::kNoSpace:
      std::snprintf(detail, sizeof detail, "no buffer space for %s (%" PRIu64 " bytes)", what,
                    value);
      break;
    default:
      std::snprintf(detail, sizeof detail, "%s value %" PRIu64 " (0x%" PRIx64 ")", what, value,
                    value);
      break;
  }
  char out[256];
  std::snprintf(out, sizeof out, "xdr: %s: %s at offset %" PRIu32, errc_name(code), detail, offset);
  return out;
}

}  // namespace ringrpc::xdr
