// Fuzzes the RPC call and reply header decoders and the AUTH_SYS body decoder, in strict and
// lenient mode. Strict success must round-trip through the encoders byte for byte.
#include <cstdint>
#include <cstring>
#include <vector>

#include "codec/rpc_msg.h"
#include "tests/fuzz/fuzz_check.h"

using namespace ringrpc;
using namespace ringrpc::rpc;

namespace {

std::vector<uint8_t> encode(const auto& fn) {
  BufferPool pool(BufferPool::Options{128, 4, 0});
  xdr::OutMessage out;
  {
    xdr::XdrWriter w(pool, out, {false, xdr::kMaxFragment, true});
    FUZZ_CHECK(fn(w) && w.finish());
  }
  std::vector<uint8_t> bytes = out.flatten();
  out.clear();
  return bytes;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> in(data, size);
  for (bool strict : {true, false}) {
    const xdr::DecodeOptions opts{strict, 16};
    {
      xdr::XdrReader r(in, opts);
      CallHeader h;
      if (decode_call_header(r, h)) {
        if (strict) {
          auto again = encode([&](xdr::XdrWriter& w) { return encode_call_header(w, h); });
          FUZZ_CHECK(again.size() == r.offset() &&
                     std::memcmp(again.data(), data, again.size()) == 0);
        }
        if (h.cred.flavor == static_cast<uint32_t>(auth_flavor::AUTH_SYS)) {
          AuthSysParms p;
          xdr::XdrError e;
          if (decode_authsys(h.cred.body, p, opts, &e)) {
            std::vector<uint8_t> body(authsys_size(p));
            size_t written = 0;
            FUZZ_CHECK(encode_authsys(p, body, written));
            if (strict)
              FUZZ_CHECK(written == h.cred.body.size() &&
                         std::memcmp(body.data(), h.cred.body.data(), written) == 0);
          } else {
            FUZZ_CHECK(e.code != xdr::XdrErrc::kOk && e.offset <= h.cred.body.size());
          }
        }
      } else {
        FUZZ_CHECK(!r.ok() && r.error().offset <= size);
      }
    }
    {
      xdr::XdrReader r(in, opts);
      ReplyHeader h;
      if (decode_reply_header(r, h)) {
        if (strict) {
          auto again = encode([&](xdr::XdrWriter& w) { return encode_reply_header(w, h); });
          FUZZ_CHECK(again.size() == r.offset() &&
                     std::memcmp(again.data(), data, again.size()) == 0);
        }
      } else {
        FUZZ_CHECK(!r.ok() && r.error().offset <= size);
      }
    }
  }
  return 0;
}
