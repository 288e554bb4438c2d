// Small helpers shared by the codec tests: hex vectors and encoding a message to flat bytes.
#pragma once

#include <cctype>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "codec/buffer_pool.h"
#include "codec/xdr_writer.h"

namespace ringrpc::testing {

// "00000005 68656c6c 6f000000" -> bytes; spaces are ignored.
inline std::vector<uint8_t> from_hex(std::string_view hex) {
  std::vector<uint8_t> out;
  int hi = -1;
  for (char c : hex) {
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    const int v =
        std::isdigit(static_cast<unsigned char>(c)) ? c - '0' : (std::tolower(c) - 'a' + 10);
    if (hi < 0) {
      hi = v;
    } else {
      out.push_back(static_cast<uint8_t>(hi * 16 + v));
      hi = -1;
    }
  }
  return out;
}

inline std::string to_hex(const std::vector<uint8_t>& b) {
  static const char* d = "0123456789abcdef";
  std::string s;
  for (size_t i = 0; i < b.size(); ++i) {
    if (i != 0 && i % 4 == 0) s += ' ';
    s += d[b[i] >> 4];
    s += d[b[i] & 15];
  }
  return s;
}

// Runs `fn` on a writer without record marking and returns the bytes, or an empty vector with
// *error set when encoding failed.
inline std::vector<uint8_t> encode_flat(const std::function<bool(xdr::XdrWriter&)>& fn,
                                        xdr::XdrError* error = nullptr,
                                        xdr::EncodeOptions options = {false, xdr::kMaxFragment,
                                                                      true}) {
  BufferPool pool;
  xdr::OutMessage msg;
  {
    xdr::XdrWriter w(pool, msg, options);
    const bool ok = fn(w) && w.finish();
    if (!ok) {
      if (error != nullptr) *error = w.error();
      return {};
    }
  }
  std::vector<uint8_t> bytes = msg.flatten();
  msg.clear();
  return bytes;
}

}  // namespace ringrpc::testing
