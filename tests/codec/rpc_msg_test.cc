// RPC headers: what the decoders refuse and how they say so. Byte-exact agreement with libtirpc
// is in tests/interop/tirpc_golden_test.cc.
#include "codec/rpc_msg.h"

#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace ringrpc::rpc {
namespace {

using testing::from_hex;
using xdr::XdrErrc;
using xdr::XdrReader;

TEST(RpcMsgTest, CallHeaderLeavesReaderAtTheArguments) {
  auto b = from_hex(
      "00000007 00000000 00000002 31230000 00000001 00000001 00000000 00000000 "
      "00000000 00000000 0000000b");
  XdrReader r(b);
  CallHeader h;
  ASSERT_TRUE(decode_call_header(r, h));
  int32_t arg{};
  ASSERT_TRUE(r.get_i32(arg) && r.finish());
  EXPECT_EQ(arg, 11);
  EXPECT_EQ(h.prog, 0x31230000u);
}

TEST(RpcMsgTest, WrongVersionStillDecodesSoTheEngineCanReplyRpcMismatch) {
  auto b = from_hex(
      "00000007 00000000 00000003 31230000 00000001 00000001 00000000 00000000 "
      "00000000 00000000");
  XdrReader r(b);
  CallHeader h;
  ASSERT_TRUE(decode_call_header(r, h));
  EXPECT_EQ(h.rpcvers, 3u);
}

TEST(RpcMsgTest, ReplyWhereACallIsExpected) {
  auto b = from_hex("00000007 00000001 00000000");
  XdrReader r(b);
  CallHeader h;
  EXPECT_FALSE(decode_call_header(r, h));
  EXPECT_EQ(h.xid, 7u);  // known, so the caller can still log or answer it
  EXPECT_EQ(r.error().code, XdrErrc::kBadValue);
  EXPECT_EQ(r.error().offset, 4u);
}

TEST(RpcMsgTest, AuthBodyOver400BytesIsRefused) {
  auto b = from_hex("00000007 00000000 00000002 31230000 00000001 00000001 00000001 00000191");
  b.resize(b.size() + 404, 0);
  XdrReader r(b);
  CallHeader h;
  EXPECT_FALSE(decode_call_header(r, h));
  EXPECT_EQ(r.error().code, XdrErrc::kLengthOverMax);
  EXPECT_EQ(r.error().value, 401u);
  EXPECT_EQ(r.error().limit, 400u);
  EXPECT_EQ(r.error().offset, 28u);
  EXPECT_STREQ(r.error().what, "call_body.cred");
}

TEST(RpcMsgTest, UnknownReplyDiscriminants) {
  for (const char* hex : {"00000001 00000001 00000002",                             // reply_stat 2
                          "00000001 00000001 00000000 00000000 00000000 00000006",  // accept_stat 6
                          "00000001 00000001 00000001 00000002"}) {                 // reject_stat 2
    auto b = from_hex(hex);
    XdrReader r(b);
    ReplyHeader h;
    EXPECT_FALSE(decode_reply_header(r, h)) << hex;
    EXPECT_EQ(r.error().code, XdrErrc::kBadDiscriminant) << hex;
  }
}

TEST(RpcMsgTest, UnknownAuthStatIsStrictUnlessLenient) {
  auto b = from_hex("00000001 00000001 00000001 00000001 00000063");
  XdrReader strict(b);
  ReplyHeader h;
  EXPECT_FALSE(decode_reply_header(strict, h));
  EXPECT_EQ(strict.error().code, XdrErrc::kBadEnum);
  XdrReader lenient(b, {false, 64});
  EXPECT_TRUE(decode_reply_header(lenient, h));
  EXPECT_EQ(static_cast<uint32_t>(h.why), 99u);
}

TEST(RpcMsgTest, AuthSysLimits) {
  // machinename of 256 bytes
  auto b = from_hex("00000001 00000100");
  b.resize(b.size() + 256, 'a');
  b.resize(b.size() + 12, 0);
  AuthSysParms p;
  xdr::XdrError e;
  EXPECT_FALSE(decode_authsys(b, p, {}, &e));
  EXPECT_EQ(e.code, XdrErrc::kLengthOverMax);
  EXPECT_STREQ(e.what, "authsys_parms.machinename");
  // 17 gids
  auto g = from_hex("00000001 00000000 00000000 00000000 00000011");
  g.resize(g.size() + 17 * 4, 0);
  EXPECT_FALSE(decode_authsys(g, p, {}, &e));
  EXPECT_EQ(e.code, XdrErrc::kLengthOverMax);
  EXPECT_STREQ(e.what, "authsys_parms.gids");
  // trailing bytes inside the credential: strict refuses, lenient (libtirpc) ignores
  auto t = from_hex("00000001 00000000 00000000 00000000 00000000 deadbeef");
  EXPECT_FALSE(decode_authsys(t, p, {}, &e));
  EXPECT_EQ(e.code, XdrErrc::kTrailingBytes);
  EXPECT_TRUE(decode_authsys(t, p, {false, 64}));
}

TEST(RpcMsgTest, StatusNames) {
  EXPECT_STREQ(to_string(accept_stat::GARBAGE_ARGS), "GARBAGE_ARGS");
  EXPECT_STREQ(to_string(reject_stat::AUTH_ERROR), "AUTH_ERROR");
  EXPECT_STREQ(to_string(auth_stat::RPCSEC_GSS_CTXPROBLEM), "RPCSEC_GSS_CTXPROBLEM");
}

}  // namespace
}  // namespace ringrpc::rpc
