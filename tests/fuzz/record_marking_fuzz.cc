// Fuzzes the record-marking reassembler: the first byte picks a chunk-size pattern and a maximum
// record size; the rest is the stream. Properties: the records (and whether and where the stream
// fails) are the same for every chunking, including one byte at a time; no record exceeds the
// maximum; a borrowed record lies inside the chunk it came from. The same holds when the chunks
// lie in pooled buffers passed as owners (some or all), with records gathered as pieces from a
// few bytes up.
#include <cstdint>
#include <cstring>
#include <vector>

#include "codec/buffer_pool.h"

#include "codec/record_marking.h"
#include "tests/fuzz/fuzz_check.h"

using namespace ringrpc::xdr;

namespace {

struct Outcome {
  std::vector<std::vector<uint8_t>> records;
  bool failed = false;
  bool mid_record = false;
  bool operator==(const Outcome&) const = default;
};

// owners: 0 none, 1 every chunk, 2 every other chunk.
Outcome run(std::span<const uint8_t> stream, size_t max_record, uint8_t pattern, int owners = 0) {
  Outcome o;
  ringrpc::BufferPool pool(ringrpc::BufferPool::Options{(stream.size() / 64 + 1) * 64, 4, 0});
  RecordReader rr(RecordOptions{max_record, owners != 0 ? 4u : 0u});
  size_t pos = 0, step = 0;
  while (pos < stream.size() && !o.failed) {
    size_t n = pattern == 0 ? stream.size() : 1 + ((pattern * 31 + step++ * 7) % (pattern + 1));
    n = std::min(n, stream.size() - pos);
    ringrpc::Buffer b = pool.acquire();
    FUZZ_CHECK(b);
    std::memcpy(b.data(), stream.data() + pos, n);
    pos += n;
    std::span<const uint8_t> chunk(b.data(), n), in(chunk);
    const bool own = owners == 1 || (owners == 2 && step % 2 == 0);
    Record rec;
    RecordReader::Status st;
    while ((st = rr.next(in, rec, own ? &b : nullptr)) == RecordReader::Status::kRecord) {
      if (rec.borrowed) {
        FUZZ_CHECK(rec.data.empty() ||
                   (rec.data.data() >= chunk.data() &&
                    rec.data.data() + rec.data.size() <= chunk.data() + chunk.size()));
      }
      if (!rec.pieces.empty()) {
        FUZZ_CHECK(rec.data.empty() && owners != 0);
        std::vector<uint8_t> r(ringrpc::total_size(rec.pieces));
        FUZZ_CHECK(ringrpc::copy_front(rec.pieces, r.data(), r.size()));
        o.records.push_back(std::move(r));
      } else {
        o.records.emplace_back(rec.data.begin(), rec.data.end());
      }
      FUZZ_CHECK(o.records.back().size() <= max_record);
    }
    if (st == RecordReader::Status::kError) {
      FUZZ_CHECK(!rr.error().ok());
      o.failed = true;
    }
  }
  o.mid_record = rr.mid_record();
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  const size_t max_record = 1 + (data[0] & 0x3f) * 16;
  std::span<const uint8_t> stream(data + 1, size - 1);
  const Outcome whole = run(stream, max_record, 0);
  FUZZ_CHECK(run(stream, max_record, 1) == whole);  // pattern 1: 1-2 byte chunks
  FUZZ_CHECK(run(stream, max_record, static_cast<uint8_t>(1 + (data[0] >> 6) * 5)) == whole);
  FUZZ_CHECK(run(stream, max_record, 3, 1) == whole);
  FUZZ_CHECK(run(stream, max_record, 5, 2) == whole);
  return 0;
}
