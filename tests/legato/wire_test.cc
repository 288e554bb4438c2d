// Legato rpcProxy's wire format: golden bytes for every message type (the worked example of
// reference/legato-rpc.md 1.10, and connect/keep-alive messages laid out field by field from the
// structs), decoded from every chunking, every truncation, and hostile variations.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "engine/legato/oncrpc.h"
#include "engine/legato/wire.h"

namespace ringrpc::legato {
namespace {

using Bytes = std::vector<uint8_t>;

Bytes hex(const std::string& h) {
  Bytes b;
  std::string digits;
  for (char c : h) {
    if (std::isxdigit(static_cast<unsigned char>(c))) digits += c;
  }
  for (size_t i = 0; i + 1 < digits.size(); i += 2) {
    b.push_back(static_cast<uint8_t>(std::stoi(digits.substr(i, 2), nullptr, 16)));
  }
  return b;
}
void append(Bytes& b, const Bytes& more) { b.insert(b.end(), more.begin(), more.end()); }
void append_text(Bytes& b, const std::string& s) { b.insert(b.end(), s.begin(), s.end()); }
// A name field: the text, a NUL, then `fill` to its width (Legato leaves what was there).
void field(Bytes& b, const std::string& s, size_t width, uint8_t fill = 0) {
  append_text(b, s);
  b.push_back(0);
  b.insert(b.end(), width - s.size() - 1, fill);
}

// printer.Print from the reference, 1.10: request (type 4) and response (type 5), id 7, service 3.
Bytes print_request() {
  Bytes b = hex("00000007 00000003 04  00000000 9f 03 1a499602d2");
  b.push_back(0x6d);
  append_text(b, "Hello, world!");
  append(b, hex("0a 1831 ff"));
  return b;
}
Bytes print_response() {
  Bytes b = hex("00000007 00000003 05  00000000 9f 781d");
  append_text(b, "What is the name of the band?");
  append(b, hex("01 ff"));
  return b;
}
// CONNECT_SERVICE_REQUEST, laid out as rpcProxy_ConnectServiceMessage_t: 333 bytes.
Bytes connect(uint8_t type, int32_t code, uint8_t fill = 0) {
  Bytes b = hex("00000002 0badf00d");
  b.push_back(type);
  field(b, "Alice", 64, fill);
  field(b, "printer", 128, fill);
  field(b, "4a2b9c1d0e5f67a8b9c0d1e2f3a4b5c6", 128, fill);
  for (int s = 24; s >= 0; s -= 8)
    b.push_back(static_cast<uint8_t>(static_cast<uint32_t>(code) >> s));
  return b;
}
Bytes keepalive(uint8_t type) {
  Bytes b = hex("00000009 00000000");
  b.push_back(type);
  field(b, "Bob", 64);
  return b;
}
// An event: msgId 1, then tag 2006 and the handler context, then a string.
Bytes event() { return hex("00000000 00000003 08  00000001 9f d907d6 1a00010002 6568656c6c6f ff"); }
// A file-stream data packet: no msgId, stream id 1, flags DATA_PACKET|OWNER, two bytes.
Bytes filestream() { return hex("00000011 00000003 09  9f d907d8 01 d907d9 1821 426869 ff"); }

Bytes golden_stream() {
  Bytes s;
  for (const Bytes& m :
       {connect(1, 0, 0xcc), connect(2, kLeDuplicate), print_request(), print_response(),
        keepalive(6), keepalive(7), event(), filestream(), connect(3, 0)}) {
    append(s, m);
  }
  return s;
}

// Reads the stream in chunks (random ones with `rng`); with `wrapped`, as a Link does: the
// in-place shortcut first (counted in *shortcuts), then the long way.
std::vector<Message> read_all(const Bytes& stream, std::mt19937* rng, std::string* error,
                              bool wrapped = false, size_t* shortcuts = nullptr,
                              uint64_t* offset = nullptr) {
  MessageReader r;
  std::vector<Message> out;
  std::span<const uint8_t> rest(stream);
  while (!rest.empty()) {
    size_t n = rest.size();
    if (rng != nullptr) n = std::min<size_t>(n, 1 + (*rng)() % 40);
    std::span<const uint8_t> chunk = rest.subspan(0, n);
    rest = rest.subspan(n);
    while (true) {
      WrappedMessage w;
      if (wrapped && r.next_wrapped(chunk, w)) {
        Message m;
        m.header = w.header;
        m.msg_id = w.msg_id;
        m.body.assign(w.body.begin(), w.body.end());
        // The payload is the body's one byte string, as oncrpc.h would unwrap it.
        std::span<const uint8_t> inner;
        EXPECT_TRUE(unwrap_rpc_message(w.body, inner));
        EXPECT_EQ(inner.data(), w.payload.data());
        EXPECT_EQ(inner.size(), w.payload.size());
        out.push_back(std::move(m));
        if (shortcuts != nullptr) ++*shortcuts;
        continue;
      }
      Message m;
      const auto st = r.next(chunk, m);
      if (st == MessageReader::Status::kMessage) {
        out.push_back(std::move(m));
        continue;
      }
      if (st == MessageReader::Status::kError) {
        *error = r.error();
        return out;
      }
      break;
    }
  }
  if (offset != nullptr) *offset = r.offset();
  return out;
}

TEST(LegatoWire, GoldenMessagesDecode) {
  std::string err;
  const std::vector<Message> m = read_all(golden_stream(), nullptr, &err);
  ASSERT_TRUE(err.empty()) << err;
  ASSERT_EQ(m.size(), 9u);
  EXPECT_EQ(connect(1, 0).size(), kConnectMessageSize);
  EXPECT_EQ(keepalive(6).size(), kKeepAliveMessageSize);

  EXPECT_EQ(m[0].header.type, MsgType::kConnectServiceRequest);
  EXPECT_EQ(m[0].header.id, 2u);
  EXPECT_EQ(m[0].header.service_id, 0x0badf00du);
  EXPECT_EQ(m[0].system_name, "Alice");  // garbage after the NUL is ignored
  EXPECT_EQ(m[0].service_name, "printer");
  EXPECT_EQ(m[0].protocol_id, "4a2b9c1d0e5f67a8b9c0d1e2f3a4b5c6");
  EXPECT_EQ(m[1].header.type, MsgType::kConnectServiceResponse);
  EXPECT_EQ(m[1].service_code, -14);

  EXPECT_EQ(m[2].header.type, MsgType::kClientRequest);
  EXPECT_EQ(m[2].header.id, 7u);
  EXPECT_EQ(m[2].header.service_id, 3u);
  EXPECT_EQ(m[2].msg_id, 0u);
  const Bytes req = print_request();
  EXPECT_EQ(m[2].body, Bytes(req.begin() + 13, req.end()));
  EXPECT_EQ(m[3].header.type, MsgType::kServerResponse);
  EXPECT_EQ(m[3].body.back(), 0xff);

  EXPECT_EQ(m[4].header.type, MsgType::kKeepAliveRequest);
  EXPECT_EQ(m[4].system_name, "Bob");
  EXPECT_EQ(m[5].header.type, MsgType::kKeepAliveResponse);
  EXPECT_EQ(m[6].header.type, MsgType::kServerAsyncEvent);
  EXPECT_EQ(m[6].msg_id, 1u);
  EXPECT_EQ(m[7].header.type, MsgType::kFileStreamMessage);
  EXPECT_EQ(m[7].body.size(), filestream().size() - kHeaderSize);
  EXPECT_EQ(m[8].header.type, MsgType::kDisconnectService);
}

TEST(LegatoWire, EncodeGivesTheGoldenBytes) {
  std::string err;
  const Bytes stream = golden_stream();
  const std::vector<Message> m = read_all(stream, nullptr, &err);
  ASSERT_EQ(m.size(), 9u);
  Bytes again;
  for (const Message& x : m) ASSERT_TRUE(encode(x, again)) << to_string(x.header.type);
  // The first connect message had garbage after its NULs; ours are zeroed.
  Bytes want = connect(1, 0);
  for (const Bytes& x : {connect(2, kLeDuplicate), print_request(), print_response(), keepalive(6),
                         keepalive(7), event(), filestream(), connect(3, 0)}) {
    append(want, x);
  }
  EXPECT_EQ(again, want);
}

TEST(LegatoWire, AnyChunkingGivesTheSameMessages) {
  const Bytes stream = golden_stream();
  std::string err;
  const std::vector<Message> whole = read_all(stream, nullptr, &err);
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    const std::vector<Message> m = read_all(stream, &rng, &err);
    ASSERT_TRUE(err.empty()) << err;
    ASSERT_EQ(m.size(), whole.size());
    for (size_t i = 0; i < m.size(); ++i) {
      EXPECT_EQ(m[i].body, whole[i].body);
      EXPECT_EQ(m[i].header.id, whole[i].header.id);
      EXPECT_EQ(m[i].system_name, whole[i].system_name);
    }
  }
}

// The data path's shape (oncrpc.h): requests and responses whose body is one byte string, of
// each length form, among messages that must go the long way (a byte string with more after it,
// an event made of one byte string, everything of the golden stream).
Bytes wrapped_stream() {
  Bytes s = golden_stream();
  append(s, hex("00000010 00000003 04  00000001 9f 44 deadbeef ff"));
  Bytes resp = hex("00000010 00000003 05  00000001 9f 58 20");
  resp.insert(resp.end(), 32, 0x5a);
  resp.push_back(0xff);
  append(s, resp);
  append(s, hex("00000011 00000003 04  00000002 9f 42 abcd 01 ff"));  // one more item
  append(s, hex("00000012 00000003 08  00000002 9f d907d6 01 41 00 ff"));
  Bytes big = hex("00000013 00000003 04  00000003 9f 59 012c");
  for (int i = 0; i < 300; ++i) big.push_back(static_cast<uint8_t>(i));
  big.push_back(0xff);
  append(s, big);
  append(s, connect(1, 0));
  append(s, hex("00000014 00000003 05  00000003 9f 40 ff"));  // an empty string
  return s;
}

TEST(LegatoWire, TheInPlaceShortcutReadsWhatTheLongWayReads) {
  const Bytes stream = wrapped_stream();
  std::string err;
  uint64_t offset = 0;
  const std::vector<Message> plain = read_all(stream, nullptr, &err);
  ASSERT_TRUE(err.empty()) << err;
  size_t shortcuts = 0;
  std::vector<Message> fast = read_all(stream, nullptr, &err, true, &shortcuts, &offset);
  ASSERT_TRUE(err.empty()) << err;
  EXPECT_EQ(shortcuts, 4u);  // exactly the four requests and responses of one byte string
  EXPECT_EQ(offset, stream.size());
  std::mt19937 rng(5);
  for (int trial = 0; trial < 300; ++trial) {
    fast = read_all(stream, &rng, &err, true, nullptr, &offset);
    ASSERT_TRUE(err.empty()) << err;
    EXPECT_EQ(offset, stream.size());
    ASSERT_EQ(fast.size(), plain.size());
    for (size_t i = 0; i < fast.size(); ++i) {
      EXPECT_EQ(fast[i].header.id, plain[i].header.id);
      EXPECT_EQ(fast[i].header.service_id, plain[i].header.service_id);
      EXPECT_EQ(fast[i].header.type, plain[i].header.type);
      EXPECT_EQ(fast[i].msg_id, plain[i].msg_id);
      EXPECT_EQ(fast[i].body, plain[i].body);
    }
  }
}

// Large payloads read with owners, as a Link reads them: each chunk in a pooled receive buffer,
// passed as its owner except where `withhold` sometimes says no, the in-place shortcut tried
// first. Returns each message with its body made whole again from the pieces, and counts the
// large payloads (32 KiB up) that were not copied: taken in place, or as pieces.
std::vector<Message> read_owned(const Bytes& stream, BufferPool& pool, std::mt19937& rng,
                                size_t min_chunk, size_t max_chunk, bool withhold, size_t* pieced,
                                std::string* error) {
  MessageReader r;
  std::vector<Message> out;
  Message m;  // reused, as Link reuses its message
  for (size_t pos = 0; pos < stream.size();) {
    const size_t n =
        std::min<size_t>(stream.size() - pos, min_chunk + rng() % (max_chunk - min_chunk + 1));
    Buffer b = pool.acquire();
    EXPECT_TRUE(b);
    std::memcpy(b.data(), stream.data() + pos, n);
    pos += n;
    std::span<const uint8_t> chunk(b.data(), n);
    const bool own = !withhold || rng() % 3 != 0;
    while (true) {
      WrappedMessage w;
      if (r.next_wrapped(chunk, w)) {
        Message in_place;
        in_place.header = w.header;
        in_place.msg_id = w.msg_id;
        in_place.body.assign(w.body.begin(), w.body.end());
        if (w.payload.size() >= 32 * 1024) ++*pieced;
        out.push_back(std::move(in_place));
        continue;
      }
      const auto st = r.next(chunk, m, own ? &b : nullptr);
      if (st == MessageReader::Status::kError) {
        *error = r.error();
        return out;
      }
      if (st == MessageReader::Status::kNeedMore) break;
      Message whole = m;
      if (!m.payload_pieces.empty()) {
        ++*pieced;
        EXPECT_GE(whole.body.size(), 3u);
        EXPECT_EQ(whole.body.back(), 0xFF);
        Bytes bytes(total_size(m.payload_pieces));
        EXPECT_TRUE(copy_front(m.payload_pieces, bytes.data(), bytes.size()));
        whole.body.insert(whole.body.end() - 1, bytes.begin(), bytes.end());
        whole.payload_pieces.clear();
        m.payload_pieces.clear();  // what Link does once the message is handled
      }
      out.push_back(std::move(whole));
    }
  }
  return out;
}

TEST(LegatoWire, LargePayloadsComeBackAsPiecesOfTheirBuffers) {
  // Among the golden messages: a 40 KB request and a 100 KB response in the data path's shape,
  // and three that must be copied whole: a large byte string with an item after it, a large
  // text string, and an event of one large byte string.
  Bytes s = golden_stream();
  auto big = [](uint8_t type, uint32_t id, uint8_t major, size_t n, const Bytes& after) {
    Bytes b = hex("00000000 00000003");
    b[3] = static_cast<uint8_t>(id);
    b.push_back(type);
    append(b, hex("00000001 9f"));
    if (type == 8) append(b, hex("d907d6 01"));
    b.push_back(static_cast<uint8_t>(major << 5 | 26));
    for (int sh = 24; sh >= 0; sh -= 8) b.push_back(static_cast<uint8_t>(n >> sh));
    for (size_t i = 0; i < n; ++i) b.push_back(static_cast<uint8_t>('a' + i % 26));
    append(b, after);
    b.push_back(0xff);
    return b;
  };
  append(s, big(4, 0x20, 2, 40000, {}));
  append(s, big(5, 0x21, 2, 100000, {}));
  append(s, big(4, 0x22, 2, 50000, hex("01")));
  append(s, big(5, 0x23, 3, 50000, {}));
  append(s, big(8, 0x24, 2, 50000, {}));
  append(s, keepalive(6));
  std::string err;
  const std::vector<Message> plain = read_all(s, nullptr, &err);
  ASSERT_TRUE(err.empty()) << err;
  BufferPool pool(BufferPool::Options{65536, 4, 0});
  std::mt19937 rng(17);
  for (int trial = 0; trial < 60; ++trial) {
    size_t pieced = 0;
    const bool withhold = trial % 2 == 1;
    // Chunks of 16 KiB or more (half of reference_from), or slivers, which are copied (a
    // payload split into slivers is never taken as pieces; one may still lie whole in a chunk).
    const bool slivers = trial >= 40;
    const size_t min_chunk = slivers ? 1 : 16384, max_chunk = slivers ? 3000 : 65536;
    const std::vector<Message> m =
        read_owned(s, pool, rng, min_chunk, max_chunk, withhold, &pieced, &err);
    ASSERT_TRUE(err.empty()) << err;
    ASSERT_EQ(m.size(), plain.size());
    for (size_t i = 0; i < m.size(); ++i) {
      EXPECT_EQ(m[i].header.id, plain[i].header.id);
      EXPECT_EQ(m[i].header.type, plain[i].header.type);
      EXPECT_EQ(m[i].msg_id, plain[i].msg_id);
      EXPECT_EQ(m[i].body, plain[i].body) << "message " << i << ", trial " << trial;
    }
    EXPECT_LE(pieced, 2u);  // only the two in the data path's shape
    if (slivers) {
      EXPECT_EQ(pieced, 0u);
    } else if (!withhold) {
      EXPECT_EQ(pieced, 2u);
    }
    EXPECT_EQ(pool.buffers_in_use(), 0u);  // nothing pinned once the messages are handled
  }
}

TEST(LegatoWire, TheShortcutLeavesBrokenAndPartialStreamsToTheLongWay) {
  // Garbage after a wrapped request: the error and its offset are the same either way.
  Bytes s = hex("00000010 00000003 04  00000001 9f 44 deadbeef ff");
  append(s, hex("00000000 00000000 0b"));
  std::string plain_err, fast_err;
  read_all(s, nullptr, &plain_err);
  read_all(s, nullptr, &fast_err, true);
  EXPECT_FALSE(plain_err.empty());
  EXPECT_EQ(fast_err, plain_err);
  // Inside a message (its header already taken) the reader refuses the shortcut, even if the
  // bytes that follow look like a whole message; and a failed reader refuses it for good.
  MessageReader r;
  const Bytes req = hex("00000010 00000003 04  00000001 9f 44 deadbeef ff");
  std::span<const uint8_t> head(req.data(), 5);
  Message m;
  EXPECT_EQ(r.next(head, m), MessageReader::Status::kNeedMore);
  std::span<const uint8_t> whole(req);
  WrappedMessage w;
  EXPECT_FALSE(r.next_wrapped(whole, w));
  EXPECT_EQ(whole.size(), req.size());
  const Bytes bad = hex("00000000 00000000 0b");
  MessageReader broken;
  std::span<const uint8_t> b(bad);
  EXPECT_EQ(broken.next(b, m), MessageReader::Status::kError);
  std::span<const uint8_t> again(req);
  EXPECT_FALSE(broken.next_wrapped(again, w));
  // A body over the reader's bound is not taken in place either; the long way refuses it.
  MessageReader small(ReaderLimits{4, 8});
  std::span<const uint8_t> big(req);
  EXPECT_FALSE(small.next_wrapped(big, w));
  EXPECT_EQ(small.next(big, m), MessageReader::Status::kError);
}

TEST(LegatoWire, EveryTruncationWaitsForMore) {
  const Bytes stream = golden_stream();
  for (size_t n = 0; n < stream.size(); ++n) {
    MessageReader r;
    std::span<const uint8_t> in(stream.data(), n);
    Message m;
    MessageReader::Status st;
    size_t got = 0;
    while ((st = r.next(in, m)) == MessageReader::Status::kMessage) ++got;
    ASSERT_EQ(st, MessageReader::Status::kNeedMore) << n << ": " << r.error();
    ASSERT_TRUE(in.empty());
    ASSERT_LT(got, 9u);
  }
}

std::string first_error(const Bytes& b, ReaderLimits limits = {}) {
  MessageReader r(limits);
  std::span<const uint8_t> in(b);
  Message m;
  while (true) {
    const auto st = r.next(in, m);
    if (st == MessageReader::Status::kError) return r.error();
    if (st == MessageReader::Status::kNeedMore) return "";
  }
}

TEST(LegatoWire, HostileInputIsAnErrorWithItsPlace) {
  const std::string head = "00000005 00000003 04 00000000 ";
  EXPECT_NE(first_error(hex("00000001 00000000 00")).find("type 0"), std::string::npos);
  EXPECT_NE(first_error(hex("00000001 00000000 0a")).find("type 10"), std::string::npos);
  EXPECT_NE(first_error(hex("00000001 00000000 ff")).find("stream offset 9"), std::string::npos);
  EXPECT_NE(first_error(hex(head + "a1 01 02")).find("body does not start"), std::string::npos);
  EXPECT_NE(first_error(hex(head + "9f a1 01 02 ff")).find("map"), std::string::npos);
  EXPECT_NE(first_error(hex(head + "9f f6 ff")).find("null"), std::string::npos);
  EXPECT_NE(first_error(hex(head + "9f f93c00 ff")).find("float"), std::string::npos);
  EXPECT_NE(first_error(hex(head + "9f fa3f800000 ff")).find("float"), std::string::npos);
  EXPECT_NE(first_error(hex(head + "9f d82a 01 ff")).find("tag 42"), std::string::npos);
  EXPECT_NE(first_error(hex(head + "9f d907d6 6161 ff")).find("unsigned"), std::string::npos);
  EXPECT_NE(first_error(hex(head + "9f d907d8 1a00010000 ff")).find("65535"), std::string::npos);
  EXPECT_NE(first_error(hex(head + "9f d907d6 ff")).find("no item"), std::string::npos);
  EXPECT_NE(first_error(hex(head + "9f 7f 6161 ff ff")).find("indefinite-length string"),
            std::string::npos);
  EXPECT_NE(first_error(hex(head + "9f 1c ff")).find("reserved"), std::string::npos);
  EXPECT_NE(first_error(hex(head + "9f 81 ff")).find("break"), std::string::npos);
  EXPECT_NE(first_error(hex(head + "9f e0 ff")).find("simple value"), std::string::npos);
  // An event must start with its handler reference.
  EXPECT_NE(first_error(hex("00000000 00000003 08 00000001 9f 01 ff")).find("event"),
            std::string::npos);
  // Lengths that claim more than any body may hold fail before anything is allocated.
  EXPECT_NE(first_error(hex(head + "9f 5bffffffffffffffff")).find("over the body limit"),
            std::string::npos);
  EXPECT_NE(first_error(hex(head + "9f 9bffffffffffffffff")).find("over the body limit"),
            std::string::npos);
  Bytes deep = hex(head + "9f");
  deep.insert(deep.end(), 40, 0x9f);
  EXPECT_NE(first_error(deep).find("nested deeper"), std::string::npos);
  Bytes one_big = hex(head + "9f 5a00100000");  // a 1 MiB string against a 4 KiB limit
  EXPECT_NE(first_error(one_big, ReaderLimits{4096, 32}).find("over the body limit"),
            std::string::npos);
  Bytes many = hex(head + "9f");  // 3000 small strings: 9000 bytes against a 4 KiB limit
  for (int i = 0; i < 3000; ++i) append(many, hex("426868"));
  EXPECT_NE(first_error(many, ReaderLimits{4096, 32}).find("longer than"), std::string::npos);
  // Names that never end inside their fields.
  Bytes open = connect(1, 0);
  std::fill(open.begin() + 9, open.begin() + 9 + 64, 'x');
  EXPECT_NE(first_error(open).find("systemName"), std::string::npos);
  Bytes open2 = connect(1, 0);
  std::fill(open2.begin() + 201, open2.begin() + 201 + 128, 'x');
  EXPECT_NE(first_error(open2).find("protocolIdStr"), std::string::npos);
}

TEST(LegatoWire, AfterAnErrorTheReaderStaysBroken) {
  MessageReader r;
  Bytes bad = hex("00000001 00000000 0b");
  append(bad, keepalive(6));
  std::span<const uint8_t> in(bad);
  Message m;
  EXPECT_EQ(r.next(in, m), MessageReader::Status::kError);
  EXPECT_EQ(r.next(in, m), MessageReader::Status::kError);
  r.reset();
  std::span<const uint8_t> good = std::span<const uint8_t>(bad).subspan(9);
  EXPECT_EQ(r.next(good, m), MessageReader::Status::kMessage);
}

TEST(LegatoWire, MutationsNeverCrash) {
  const Bytes stream = golden_stream();
  std::mt19937 rng(5);
  for (int trial = 0; trial < 3000; ++trial) {
    Bytes b = stream;
    const int flips = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < flips; ++k) b[rng() % b.size()] = static_cast<uint8_t>(rng());
    std::string err;
    (void)read_all(b, &rng, &err);
  }
}

TEST(LegatoWire, EncodeRefusesWhatDoesNotFit) {
  Message m;
  m.header.type = MsgType::kKeepAliveRequest;
  m.system_name = std::string(64, 'a');  // no room for the NUL
  Bytes out;
  EXPECT_FALSE(encode(m, out));
  m.system_name = std::string(63, 'a');
  EXPECT_TRUE(encode(m, out));
  EXPECT_EQ(out.size(), kKeepAliveMessageSize);
  Message req;
  req.header.type = MsgType::kClientRequest;
  req.body = hex("9f 01");  // unterminated
  EXPECT_FALSE(encode(req, out));
  req.body = hex("9f 01 ff 02");  // trailing bytes
  EXPECT_FALSE(encode(req, out));
  req.body = hex("9f 01 ff");
  EXPECT_TRUE(encode(req, out));
}

}  // namespace
}  // namespace ringrpc::legato
