// ONC RPC inside rpcProxy messages: the protocol id string, and a call record wrapped in a body
// that Legato's receiver rules accept (read back through MessageReader), unwrapped unchanged;
// bodies that carry anything else are refused.
#include <gtest/gtest.h>

#include <random>

#include "engine/legato/oncrpc.h"
#include "engine/legato/wire.h"

namespace ringrpc::legato {
namespace {

TEST(OncRpcOverLegato, ProtocolIds) {
  EXPECT_EQ(oncrpc_protocol_id(0x31230000, 1), "oncrpc/824377344/1");
  uint32_t p = 0, v = 0;
  ASSERT_TRUE(parse_oncrpc_protocol_id("oncrpc/824377344/1", p, v));
  EXPECT_EQ(p, 0x31230000u);
  EXPECT_EQ(v, 1u);
  ASSERT_TRUE(parse_oncrpc_protocol_id(oncrpc_protocol_id(UINT32_MAX, UINT32_MAX), p, v));
  EXPECT_EQ(p, UINT32_MAX);
  EXPECT_LT(oncrpc_protocol_id(UINT32_MAX, UINT32_MAX).size(), kProtocolIdBytes);
  for (const char* bad :
       {"oncrpc/1", "oncrpc/1/", "oncrpc//1", "oncrpc/01/1", "oncrpc/1/2/3", "oncrpc/4294967296/1",
        "ONCRPC/1/1", "4a2b9c1d0e5f67a8b9c0d1e2f3a4b5c6", "oncrpc/-1/1", "oncrpc/1/1 "}) {
    EXPECT_FALSE(parse_oncrpc_protocol_id(bad, p, v)) << bad;
  }
}

TEST(OncRpcOverLegato, RecordsOfEverySizeSurviveTheTrip) {
  std::mt19937 rng(3);
  for (size_t n : {size_t{0}, size_t{1}, size_t{23}, size_t{24}, size_t{255}, size_t{256},
                   size_t{65535}, size_t{65536}, size_t{200000}}) {
    std::vector<uint8_t> record(n);
    for (auto& b : record) b = static_cast<uint8_t>(rng());
    Message m;
    m.header = {2, 7, MsgType::kClientRequest};
    m.msg_id = 1;  // SQUAREPROC
    m.body = wrap_rpc_message(record);
    std::vector<uint8_t> wire;
    ASSERT_TRUE(encode(m, wire)) << n;  // a body Legato's rules accept
    MessageReader r(ReaderLimits{1u << 20, 32});
    std::span<const uint8_t> in(wire);
    Message back;
    ASSERT_EQ(r.next(in, back), MessageReader::Status::kMessage) << r.error();
    std::span<const uint8_t> got;
    ASSERT_TRUE(unwrap_rpc_message(back.body, got)) << n;
    EXPECT_TRUE(std::equal(got.begin(), got.end(), record.begin(), record.end())) << n;
  }
  EXPECT_EQ(wrap_rpc_message(std::vector<uint8_t>(24, 0))[1], 0x58);  // shortest length form
}

TEST(OncRpcOverLegato, OtherBodiesAreRefused) {
  std::span<const uint8_t> out;
  auto refuse = [&](std::vector<uint8_t> b) { return !unwrap_rpc_message(b, out); };
  EXPECT_TRUE(refuse({0x9f, 0xff}));                                      // empty array
  EXPECT_TRUE(refuse({0x9f, 0x41, 0x01, 0x01, 0xff}));                    // a second item
  EXPECT_TRUE(refuse({0x9f, 0x61, 0x61, 0xff}));                          // text, not bytes
  EXPECT_TRUE(refuse({0x9f, 0x5f, 0x41, 0x01, 0xff, 0xff}));              // indefinite string
  EXPECT_TRUE(refuse({0x9f, 0x5a, 0x00, 0x00, 0x00, 0x09, 0x01, 0xff}));  // length past the end
  EXPECT_TRUE(refuse({0x9f, 0x42, 0x01, 0x02}));                          // no break
  EXPECT_TRUE(refuse({0x81, 0x41, 0x01}));                                // a definite array
  EXPECT_FALSE(refuse({0x9f, 0x42, 0x01, 0x02, 0xff}));
  EXPECT_EQ(out.size(), 2u);
}

// A length whose bytes run to the end of the body, with no room left for the break: the
// arithmetic on what is left must not wrap round (it once could, for eight 0xFF bytes).
TEST(OncRpcOverLegato, LengthRunningToTheEndIsRefused) {
  std::span<const uint8_t> msg;
  const std::vector<uint8_t> b8 = {0x9f, 0x5b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
  EXPECT_FALSE(unwrap_rpc_message(b8, msg));
  const std::vector<uint8_t> b1 = {0x9f, 0x58, 0xff};
  EXPECT_FALSE(unwrap_rpc_message(b1, msg));
  const std::vector<uint8_t> b2 = {0x9f, 0x59, 0x00, 0xff};
  EXPECT_FALSE(unwrap_rpc_message(b2, msg));
  const std::vector<uint8_t> ok = {0x9f, 0x58, 0x00, 0xff};  // a non-shortest length is fine
  ASSERT_TRUE(unwrap_rpc_message(ok, msg));
  EXPECT_TRUE(msg.empty());
}

}  // namespace
}  // namespace ringrpc::legato
