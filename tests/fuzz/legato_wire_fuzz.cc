// Fuzzes Legato rpcProxy's message reader: the input is a link's byte stream. Properties: the
// messages, and whether the stream fails, are the same whole, a byte at a time and in a pattern
// of chunks; every message read encodes back (the fixed-width names may lose bytes after their
// NUL, nothing else) and reads back as itself; no body exceeds the limit. Bodies (and the raw
// input itself) go through oncrpc.h's unwrap: what it finds lies inside the body and wraps back
// to a body that unwraps to the same bytes. Reading with the data path's in-place shortcut first
// (MessageReader::next_wrapped, as a Link does) gives the same messages and the same failure,
// and so does reading with owners (chunks in pooled buffers, payloads from a few bytes up
// gathered as pieces, owners withheld now and then), once each body is made whole again.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "codec/buffer_pool.h"

#include "engine/legato/oncrpc.h"
#include "engine/legato/wire.h"
#include "tests/fuzz/fuzz_check.h"

using namespace ringrpc::legato;

namespace {

void check_unwrap(std::span<const uint8_t> body) {
  std::span<const uint8_t> msg;
  if (!unwrap_rpc_message(body, msg)) return;
  FUZZ_CHECK(msg.data() >= body.data() && msg.data() + msg.size() <= body.data() + body.size());
  FUZZ_CHECK(msg.size() + 3 <= body.size());
  const std::vector<uint8_t> again = wrap_rpc_message(msg);
  std::span<const uint8_t> msg2;
  FUZZ_CHECK(unwrap_rpc_message(again, msg2));
  FUZZ_CHECK(std::equal(msg.begin(), msg.end(), msg2.begin(), msg2.end()));
}

struct Outcome {
  std::vector<std::vector<uint8_t>> encoded;
  bool failed = false;
  bool operator==(const Outcome&) const = default;
};

// `wrapped`: read as a Link does, the in-place shortcut (next_wrapped) before the long way.
// `owners`: each chunk copied into a pooled buffer passed as its owner (1: always, 2: every
// other chunk), with payloads of 4 bytes or more gathered as pieces.
Outcome run(std::span<const uint8_t> stream, size_t step, bool wrapped = false, int owners = 0) {
  Outcome o;
  // The pool outlives the reader, which may hold pieces of its buffers at the end.
  ringrpc::BufferPool pool(ringrpc::BufferPool::Options{(stream.size() / 64 + 1) * 64, 4, 0});
  MessageReader r(ReaderLimits{4096, 16, owners != 0 ? 4u : 0u});
  size_t pos = 0, chunks = 0;
  while (pos < stream.size() && !o.failed) {
    const size_t n = std::min(step == 0 ? stream.size() : step, stream.size() - pos);
    ringrpc::Buffer b = pool.acquire();
    FUZZ_CHECK(b);
    std::memcpy(b.data(), stream.data() + pos, n);
    std::span<const uint8_t> in(b.data(), n);
    pos += n;
    const bool own = owners == 1 || (owners == 2 && chunks++ % 2 == 0);
    Message m;
    MessageReader::Status st;
    auto next = [&] {
      WrappedMessage w;
      if (wrapped && r.next_wrapped(in, w)) {
        FUZZ_CHECK(w.payload.data() >= w.body.data() &&
                   w.payload.data() + w.payload.size() < w.body.data() + w.body.size());
        m.header = w.header;
        m.msg_id = w.msg_id;
        m.system_name.clear();
        m.service_code = 0;
        m.body.assign(w.body.begin(), w.body.end());
        return MessageReader::Status::kMessage;
      }
      return r.next(in, m, own ? &b : nullptr);
    };
    while ((st = next()) == MessageReader::Status::kMessage) {
      if (!m.payload_pieces.empty()) {
        FUZZ_CHECK(owners != 0 && m.body.size() >= 3 && m.body.back() == 0xFF);
        std::vector<uint8_t> bytes(ringrpc::total_size(m.payload_pieces));
        FUZZ_CHECK(ringrpc::copy_front(m.payload_pieces, bytes.data(), bytes.size()));
        m.body.insert(m.body.end() - 1, bytes.begin(), bytes.end());
        m.payload_pieces.clear();
      }
      FUZZ_CHECK(m.body.size() <= 4096);
      check_unwrap(m.body);
      std::vector<uint8_t> bytes;
      FUZZ_CHECK(encode(m, bytes));
      MessageReader again(ReaderLimits{4096, 16});
      std::span<const uint8_t> back(bytes);
      Message m2;
      FUZZ_CHECK(again.next(back, m2) == MessageReader::Status::kMessage && back.empty());
      FUZZ_CHECK(m2.body == m.body && m2.system_name == m.system_name &&
                 m2.header.id == m.header.id && m2.service_code == m.service_code);
      o.encoded.push_back(std::move(bytes));
    }
    if (st == MessageReader::Status::kError) {
      FUZZ_CHECK(!r.error().empty());
      o.failed = true;
    }
  }
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::span<const uint8_t> stream(data, size);
  check_unwrap(stream);
  const Outcome whole = run(stream, 0);
  FUZZ_CHECK(run(stream, 1) == whole);
  FUZZ_CHECK(run(stream, 7) == whole);
  FUZZ_CHECK(run(stream, 0, true) == whole);
  FUZZ_CHECK(run(stream, 7, true) == whole);
  FUZZ_CHECK(run(stream, 3, true, 1) == whole);
  FUZZ_CHECK(run(stream, 5, false, 2) == whole);
  return 0;
}
