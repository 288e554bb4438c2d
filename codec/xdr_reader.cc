#include "codec/xdr_reader.h"

namespace ringrpc::xdr {

bool XdrReader::fail_at(size_t at, XdrErrc code, uint64_t value, uint64_t limit,
                        const char* what) noexcept {
  if (err_.ok()) {
    err_.code = code;
    err_.offset = static_cast<uint32_t>(at);
    err_.value = value;
    err_.limit = limit;
    err_.what = what;
  }
  // Stop: every later read sees no bytes, so a caller that ignores one result cannot loop long.
  cur_ = end_;
  return false;
}

bool XdrReader::get_opaque(std::vector<uint8_t>& v, uint32_t max, const char* what) {
  std::span<const uint8_t> view;
  if (!get_opaque(view, max, what)) return false;
  v.assign(view.begin(), view.end());
  return true;
}

bool XdrReader::get_string(std::string& v, uint32_t max, const char* what) {
  std::string_view view;
  if (!get_string(view, max, what)) return false;
  v.assign(view);
  return true;
}

}  // namespace ringrpc::xdr
