// Record marking for RPC over stream transports (RFC 5531 section 11): turns a byte stream,
// arriving in any chunking, back into records.
//
// A record is one or more fragments; each fragment is a 4-byte big-endian header (top bit: last
// fragment; low 31 bits: length) and that many bytes. The reader accepts every legal stream:
// headers split across chunks, multi-fragment records, zero-length fragments (last or not; libtirpc
// closes the connection on a zero-length first fragment, the RFC allows it). It enforces a
// maximum record size as soon as a header announces more, with a clear error, and it allocates
// only as bytes actually arrive, never from a declared length.
//
// Zero copy: when a whole record (one last fragment) lies inside the chunk given to next(), the
// record is handed out as a view into that chunk. Otherwise its bytes are gathered in the reader's
// own storage, reused from record to record.
//
// The sending side is XdrWriter (codec/xdr_writer.h), which reserves the marks in its buffers.
//
// Threading: one reader per connection, used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "codec/xdr_error.h"

namespace ringrpc::xdr {

struct RecordOptions {
  // Records longer than this are refused. The default fits any message of the engine's default
  // limits with room; raise it for bulk transfers.
  size_t max_record = 4u << 20;
};

struct Record {
  std::span<const uint8_t> data;  // the record's bytes, fragment headers removed
  // True: `data` points into the chunk passed to next() and lives as long as that chunk. False:
  // it points into the reader's storage and is valid until the next call to next() or take().
  bool borrowed = false;
  uint32_t fragments = 0;
};

class RecordReader {
 public:
  enum class Status { kNeedMore, kRecord, kError };

  explicit RecordReader(RecordOptions options = {}) noexcept : options_(options) {}
  RecordReader(const RecordReader&) = delete;
  RecordReader& operator=(const RecordReader&) = delete;

  // Consumes bytes from the front of `in`, advancing it, until one record is complete (kRecord,
  // `out` set, `in` holds the bytes after it), `in` is exhausted (kNeedMore), or the stream is
  // invalid (kError; error() says why). After an error the stream cannot be resynchronised:
  // every later call returns kError, and the connection should be closed.
  Status next(std::span<const uint8_t>& in, Record& out) noexcept;

  const XdrError& error() const noexcept { return err_; }
  // True while part of a record has been consumed: end of stream now means a truncated record.
  bool mid_record() const noexcept { return header_have_ != 0 || fragments_ != 0; }
  // Bytes of the current partial record held in the reader's storage.
  size_t buffered() const noexcept { return record_len_; }
  // Moves the storage of the record just returned (borrowed == false) out of the reader, so a
  // caller can keep the record past the next call; the reader starts new storage.
  std::vector<uint8_t> take() noexcept;
  // Frees storage between records (for idle connections). No effect mid-record.
  void release_memory() noexcept;
  // Forgets everything, errors included, for a new stream (a reconnected client).
  void reset() noexcept;

 private:
  bool fail_too_large(uint64_t len, const uint8_t header[4]) noexcept;

  RecordOptions options_;
  uint8_t header_[4] = {};
  uint32_t header_have_ = 0;
  bool in_fragment_ = false;
  bool last_ = false;
  bool clear_pending_ = false;
  uint32_t frag_left_ = 0;
  uint32_t fragments_ = 0;
  size_t record_len_ = 0;
  std::vector<uint8_t> storage_;
  XdrError err_;
};

}  // namespace ringrpc::xdr
