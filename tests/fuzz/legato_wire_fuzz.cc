// Fuzzes Legato rpcProxy's message reader: the input is a link's byte stream. Properties: the
// messages, and whether the stream fails, are the same whole, a byte at a time and in a pattern
// of chunks; every message read encodes back (the fixed-width names may lose bytes after their
// NUL, nothing else) and reads back as itself; no body exceeds the limit.
#include <cstdint>
#include <vector>

#include "engine/legato/wire.h"
#include "tests/fuzz/fuzz_check.h"

using namespace ringrpc::legato;

namespace {

struct Outcome {
  std::vector<std::vector<uint8_t>> encoded;
  bool failed = false;
  bool operator==(const Outcome&) const = default;
};

Outcome run(std::span<const uint8_t> stream, size_t step) {
  Outcome o;
  MessageReader r(ReaderLimits{4096, 16});
  size_t pos = 0;
  while (pos < stream.size() && !o.failed) {
    const size_t n = std::min(step == 0 ? stream.size() : step, stream.size() - pos);
    std::span<const uint8_t> in = stream.subspan(pos, n);
    pos += n;
    Message m;
    MessageReader::Status st;
    while ((st = r.next(in, m)) == MessageReader::Status::kMessage) {
      FUZZ_CHECK(m.body.size() <= 4096);
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
  const Outcome whole = run(stream, 0);
  FUZZ_CHECK(run(stream, 1) == whole);
  FUZZ_CHECK(run(stream, 7) == whole);
  return 0;
}
