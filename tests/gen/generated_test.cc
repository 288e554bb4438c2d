// The C++ that ringrpc-gen generates for tests/gen/grammar_features.x: its types, codecs, printer
// and server dispatch.
#include <gtest/gtest.h>

#include <optional>

#include "codec/arena.h"
#include "grammar_features.h"
#include "tests/support/test_util.h"

namespace {

using namespace grammar_features;  // NOLINT: generated names are the subject

TEST(Generated, PassthroughWithContinuationIsKept) { EXPECT_EQ(FEATURES_PASSTHROUGH(2, 3), 5); }

TEST(Generated, AnonymousNestedTypesAndQuadruple) {
  shape s;
  s.origin.x = -1;
  s.body.set_discriminant(kind::KIND_A);
  s.body.q() = ringrpc::xdr::Quadruple{1, 2};
  s.size = shape_size::LARGE;
  s.samples = {1, -2, 3};
  const auto bytes = ringrpc::testing::encode_flat(
      [&](ringrpc::xdr::XdrWriter& w) { return codec::shape::encode(w, s); });
  ASSERT_EQ(bytes.size(), 8u + 4 + 16 + 4 + 24);
  ringrpc::xdr::XdrReader r(bytes);
  shape back;
  ASSERT_TRUE(codec::shape::decode(r, back) && r.finish());
  EXPECT_EQ(back, s);
  EXPECT_THROW(back.body.blob(), ringrpc::xdr::WrongArm);
  EXPECT_EQ(back.body.blob_if(), nullptr);
  back.body.set_discriminant(kind::KIND_C);
  EXPECT_EQ(back.body.blob().size(), 0u);
  EXPECT_THROW(back.body.set_discriminant(static_cast<kind>(3)), std::invalid_argument);
}

TEST(Generated, BoundsAreCheckedBothWays) {
  shape s;
  s.body.set_discriminant(kind::KIND_B);
  s.body.blob() = {1, 2, 3, 4};  // opaque blob<COUNT>, COUNT = 3
  ringrpc::xdr::XdrError err;
  EXPECT_TRUE(ringrpc::testing::encode_flat(
                  [&](ringrpc::xdr::XdrWriter& w) { return codec::shape::encode(w, s); }, &err)
                  .empty());
  EXPECT_EQ(err.code, ringrpc::xdr::XdrErrc::kEncodeOverMax);
  // Discriminant 3 is not a member of kind: refused on decode.
  const auto bad = ringrpc::testing::from_hex("00000000 00000000 00000003");
  ringrpc::xdr::XdrReader r(bad);
  shape out;
  EXPECT_FALSE(codec::shape::decode(r, out));
  EXPECT_EQ(r.error().code, ringrpc::xdr::XdrErrc::kBadEnum);
}

TEST(Generated, LongListsNeitherRecurseNorOverflow) {
  // A million nodes: encode, both decodes, compare, copy and destroy all walk the list in a loop.
  node head;
  node* tail = &head;
  for (uint32_t i = 1; i < 1000000; ++i) {
    tail = &tail->next.emplace();
    tail->id = i;
  }
  const auto bytes = ringrpc::testing::encode_flat(
      [&](ringrpc::xdr::XdrWriter& w) { return codec::node::encode(w, head); });
  ASSERT_EQ(bytes.size(), 1000000u * 12);
  ringrpc::xdr::XdrReader r(bytes);
  node back;
  ASSERT_TRUE(codec::node::decode(r, back) && r.finish());
  EXPECT_TRUE(back == head);
  node copy = back;
  EXPECT_TRUE(copy == head);
  ringrpc::Arena arena;
  ringrpc::xdr::XdrReader rv(bytes);
  view::node v;
  ASSERT_TRUE(codec::node::decode_view(rv, v, arena));
  size_t n = 0;
  for (const view::node* p = &v; p != nullptr; p = p->next) ++n;
  EXPECT_EQ(n, 1000000u);
}

TEST(Generated, PrintsTextAndJson) {
  node a;
  a.id = 7;
  a.label = "x\"y";
  a.next.emplace().id = 8;
  EXPECT_EQ(to_string(a), "[{id = 7, label = \"x\\\"y\"}, {id = 8, label = \"\"}]");
  EXPECT_EQ(to_json(a), "[{\"id\":7,\"label\":\"x\\\"y\"},{\"id\":8,\"label\":\"\"}]");
  reply r;
  r.set_discriminant(5);
  EXPECT_EQ(to_json(r), "{\"status\":5}");
  EXPECT_EQ(to_string(kind::KIND_B), "KIND_B");
}

class Server : public FEATURES_VERS_Service {
 public:
  void ADD(ringrpc::Call&, const int32_t& a, const int32_t& b, int32_t& result) override {
    result = a + b;
  }
  void GET(ringrpc::Call&, const view::node& arg, reply& result) override {
    result.set_discriminant(0);
    result.value().samples[0] = static_cast<int64_t>(arg.id);
  }
};

// Captures what the generated dispatch encodes as the results (the engine would put the reply
// header in front).
class CaptureSink final : public ringrpc::internal::ReplySink {
 public:
  ringrpc::xdr::XdrWriter* begin_reply(ringrpc::Call&) override {
    out_.clear();
    ringrpc::xdr::EncodeOptions o;
    o.record_mark = false;
    writer_.emplace(pool_, out_, o);
    return &*writer_;
  }
  void commit_reply(ringrpc::Call&) override {
    writer_->finish();
    writer_.reset();
    bytes = out_.flatten();
    replied = true;
  }
  void abort_reply(ringrpc::Call&) override { writer_.reset(); }
  ringrpc::ReplyHandle defer(ringrpc::Call&) override { return {}; }

  std::vector<uint8_t> bytes;
  bool replied = false;

 private:
  ringrpc::BufferPool pool_;
  ringrpc::xdr::OutMessage out_;
  std::optional<ringrpc::xdr::XdrWriter> writer_;
};

TEST(Generated, DispatchDecodesCallsAndEncodes) {
  Server s;
  ringrpc::Arena arena;
  const ringrpc::transport::SockAddr peer = ringrpc::transport::SockAddr::loopback4(1);
  auto call = [&](uint32_t proc, const std::vector<uint8_t>& args, std::vector<uint8_t>& out) {
    ringrpc::xdr::XdrReader r(args);
    ringrpc::rpc::CallHeader h;
    h.proc = proc;
    CaptureSink sink;
    ringrpc::Call c(h, nullptr, peer, ringrpc::TransportKind::kTcp, arena, sink);
    const ringrpc::xdr::DispatchStatus st = s.dispatch(c, r);
    out = sink.bytes;
    return st;
  };
  std::vector<uint8_t> out;
  EXPECT_EQ(call(1, ringrpc::testing::from_hex("00000002 00000028"), out),
            ringrpc::xdr::DispatchStatus::kSuccess);
  EXPECT_EQ(ringrpc::testing::to_hex(out), "0000002a");
  EXPECT_EQ(call(0, {}, out), ringrpc::xdr::DispatchStatus::kSuccess);
  EXPECT_TRUE(out.empty());
  EXPECT_EQ(call(9, {}, out), ringrpc::xdr::DispatchStatus::kProcUnavail);
  EXPECT_EQ(call(1, ringrpc::testing::from_hex("00000002"), out),
            ringrpc::xdr::DispatchStatus::kGarbageArgs);
  EXPECT_EQ(call(2, ringrpc::testing::from_hex("00000009 00000000 00000000"), out),
            ringrpc::xdr::DispatchStatus::kSuccess);
  EXPECT_EQ(out.size(), 4u + 8 + 4 + 16 + 4 + 24);
  EXPECT_EQ(FEATURES_VERS_Proto::ADD_t::number, ADD);
  EXPECT_EQ(FEATURES_VERS_Proto::program, 0x20000099u);
}

}  // namespace
