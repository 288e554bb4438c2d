// Fuzzes what the registry reads from outside: every argument type of program 100000 (view and
// owning decoders, strict and lenient; strict successes must re-encode to the same bytes),
// universal addresses (a parsed address must print and parse back to itself), and the state
// file (parse, format, parse must give the same registrations). The first byte picks which.
#include <cstdint>
#include <cstring>
#include <string_view>
#include <vector>

#include "codec/arena.h"
#include "engine/registry/registry.h"
#include "engine/registry/uaddr.h"
#include "rpcb_prot.h"
#include "tests/fuzz/fuzz_check.h"

using namespace ringrpc;
namespace pb = ::ringrpc::rpcb;

namespace {

template <typename Codec>
void decode_all(std::span<const uint8_t> in) {
  for (bool strict : {true, false}) {
    const xdr::DecodeOptions opts{strict, 16};
    {
      xdr::XdrReader r(in, opts);
      typename Codec::type v;
      const bool ok = Codec::decode(r, v) && r.finish();
      if (ok && strict) {
        BufferPool pool(BufferPool::Options{256, 4, 0});
        xdr::OutMessage out;
        {
          xdr::XdrWriter w(pool, out, {false, xdr::kMaxFragment, true});
          FUZZ_CHECK(Codec::encode(w, v) && w.finish());
        }
        const std::vector<uint8_t> again = out.flatten();
        out.clear();
        FUZZ_CHECK(again.size() == in.size() &&
                   std::memcmp(again.data(), in.data(), in.size()) == 0);
      }
    }
    {
      Arena arena;
      xdr::XdrReader r(in, opts);
      typename Codec::view_type v{};
      (void)Codec::decode_view(r, v, arena);
    }
  }
}

void uaddr_round_trip(std::string_view s) {
  for (int family : {AF_INET, AF_INET6, AF_UNIX}) {
    std::optional<transport::SockAddr> a = registry::from_uaddr(s, family);
    if (!a) continue;
    const std::string text = registry::to_uaddr(*a);
    std::optional<transport::SockAddr> b = registry::from_uaddr(text, family);
    FUZZ_CHECK(b && *a == *b);
  }
  (void)registry::uaddr_port(s);
}

void state_round_trip(std::string_view s) {
  const std::vector<registry::Mapping> once = registry::parse_state(s);
  const std::vector<registry::Mapping> twice = registry::parse_state(registry::format_state(once));
  FUZZ_CHECK(once == twice);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const std::span<const uint8_t> in(data + 1, size - 1);
  const std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (data[0] % 9) {
    case 0:
      decode_all<pb::codec::rpcb>(in);
      break;
    case 1:
      decode_all<pb::codec::pmap_mapping>(in);
      break;
    case 2:
      decode_all<pb::codec::rpcb_rmtcallargs>(in);
      break;
    case 3:
      decode_all<pb::codec::pmap_call_args>(in);
      break;
    case 4:
      decode_all<pb::codec::netbuf>(in);
      break;
    case 5:
      decode_all<pb::codec::rpcb_uaddr>(in);
      break;
    case 6:
      decode_all<pb::codec::rpcb_stat_byvers>(in);
      break;  // what ringrpc-info decodes
    case 7:
      uaddr_round_trip(text);
      break;
    default:
      state_round_trip(text);
      break;
  }
  return 0;
}
