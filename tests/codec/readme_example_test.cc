// The README's codec example, compiled and run, so the README cannot drift from the API.
#include <gtest/gtest.h>

#include <cstdio>

#include "codec/record_marking.h"
#include "codec/rpc_msg.h"

namespace ringrpc {
namespace {

TEST(ReadmeExampleTest, EncodesACallAndDecodesItBack) {
  // --- as in README.md ---
  BufferPool pool;
  xdr::OutMessage msg;
  xdr::XdrWriter w(pool, msg);
  rpc::CallHeader call;
  call.xid = 1, call.prog = 0x31230000, call.vers = 1, call.proc = 1;
  bool ok = rpc::encode_call_header(w, call) && w.put_string("hello", 64) && w.finish();
  // ---
  ASSERT_TRUE(ok);
  ASSERT_EQ(msg.iov().size(), 1u);
  const std::vector<uint8_t> received = msg.flatten();

  int records_seen = 0;
  std::string_view got;
  // --- as in README.md ---
  xdr::RecordReader records;
  std::span<const uint8_t> in = received;
  xdr::Record rec;
  while (records.next(in, rec) == xdr::RecordReader::Status::kRecord) {
    xdr::XdrReader r(rec.data);
    rpc::CallHeader h;
    std::string_view name;
    if (!rpc::decode_call_header(r, h) || !r.get_string(name, 64) || !r.finish())
      std::puts(r.error().to_string().c_str());
    // ---
    ++records_seen;
    got = name;
    EXPECT_EQ(h.prog, 0x31230000u);
  }
  EXPECT_EQ(records_seen, 1);
  EXPECT_EQ(got, "hello");
}

TEST(ReadmeExampleTest, TheErrorTextIsWhatTheReadmeShows) {
  const uint8_t header_only[40] = {0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 2, 0x31, 0x23,
                                   0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0,    0,
                                   0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
  xdr::XdrReader r(header_only);
  rpc::CallHeader h;
  std::string_view name;
  EXPECT_TRUE(rpc::decode_call_header(r, h));
  EXPECT_FALSE(r.get_string(name, 64));
  EXPECT_EQ(r.error().to_string().rfind("xdr: truncated: ", 0), 0u);
  EXPECT_NE(r.error().to_string().find("at offset 40"), std::string::npos);
}

}  // namespace
}  // namespace ringrpc
