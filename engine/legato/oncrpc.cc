#include "engine/legato/oncrpc.h"

#include <charconv>

namespace ringrpc::legato {

namespace {

constexpr std::string_view kPrefix = "oncrpc/";

bool parse_u32(std::string_view s, uint32_t& out) {
  if (s.empty() || (s.size() > 1 && s[0] == '0')) return false;  // one spelling per number
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc() && end == s.data() + s.size();
}

}  // namespace

std::string oncrpc_protocol_id(uint32_t program, uint32_t version) {
  return std::string(kPrefix) + std::to_string(program) + "/" + std::to_string(version);
}

bool parse_oncrpc_protocol_id(std::string_view id, uint32_t& program, uint32_t& version) {
  if (id.substr(0, kPrefix.size()) != kPrefix) return false;
  id.remove_prefix(kPrefix.size());
  const size_t slash = id.find('/');
  if (slash == std::string_view::npos) return false;
  return parse_u32(id.substr(0, slash), program) && parse_u32(id.substr(slash + 1), version);
}

std::vector<uint8_t> wrap_rpc_message(std::span<const uint8_t> message) {
  std::vector<uint8_t> b;
  b.reserve(message.size() + 11);
  b.push_back(0x9f);
  const uint64_t n = message.size();
  if (n < 24) {
    b.push_back(static_cast<uint8_t>(0x40 | n));
  } else if (n <= 0xff) {
    b.push_back(0x58);
    b.push_back(static_cast<uint8_t>(n));
  } else if (n <= 0xffff) {
    b.push_back(0x59);
    b.push_back(static_cast<uint8_t>(n >> 8));
    b.push_back(static_cast<uint8_t>(n));
  } else {
    b.push_back(0x5a);
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(n >> s));
  }
  b.insert(b.end(), message.begin(), message.end());
  b.push_back(0xff);
  return b;
}

bool unwrap_rpc_message(std::span<const uint8_t> body, std::span<const uint8_t>& message) {
  if (body.size() < 3 || body[0] != 0x9f || body.back() != 0xff) return false;
  const uint8_t initial = body[1];
  if ((initial >> 5) != 2) return false;  // not a byte string
  const uint8_t ai = initial & 31;
  size_t at = 2;
  uint64_t n = 0;
  if (ai < 24) {
    n = ai;
  } else if (ai >= 24 && ai <= 27) {
    const size_t width = size_t{1} << (ai - 24);
    if (body.size() < at + width) return false;
    for (size_t i = 0; i < width; ++i) n = n << 8 | body[at + i];
    at += width;
  } else {
    return false;  // indefinite or reserved
  }
  // Exactly the string, then the break: nothing before or after it in the array. (The break
  // must still be there after the length's bytes: else body.size() - at - 1 wraps round.)
  if (body.size() < at + 1 || n != body.size() - at - 1) return false;
  message = body.subspan(at, static_cast<size_t>(n));
  return true;
}

}  // namespace ringrpc::legato
