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
// own storage, reused from record to record; or, when the caller says which pooled receive buffer
// each chunk lies in and a fragment is large (RecordOptions::reference_from), gathered by
// reference as pieces of those buffers (codec/buffer_piece.h), for a caller that forwards the
// bytes rather than decodes them (the Legato proxy).
//
// The sending side is XdrWriter (codec/xdr_writer.h), which reserves the marks in its buffers.
//
// Threading: one reader per connection, used by one thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "codec/buffer_piece.h"
#include "codec/xdr_error.h"

namespace ringrpc::xdr {

struct RecordOptions {
  // Records longer than this are refused. The default fits any message of the engine's default
  // limits with room; raise it for bulk transfers.
  size_t max_record = 4u << 20;
  // With an owner passed to next(): a fragment of at least this many bytes that does not lie
  // whole in one chunk is gathered as pieces of the receive buffers instead of copied (0:
  // never). Smaller ones are copied: pinning a 64 KiB buffer costs more than copying a few KiB.
  size_t reference_from = 32 * 1024;
};

struct Record {
  std::span<const uint8_t> data;  // the record's bytes, fragment headers removed
  // True: `data` points into the chunk passed to next() and lives as long as that chunk. False:
  // it points into the reader's storage and is valid until the next call to next() or take().
  bool borrowed = false;
  uint32_t fragments = 0;
  // Not empty: the record was gathered by reference (RecordOptions::reference_from), its bytes
  // are these pieces in order, and `data` is empty. Valid, and the buffers held, until the next
  // call to next(); a caller keeps a buffer past that by copying its piece's `owner`.
  std::span<BufferPiece> pieces;
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
  //
  // `owner`, when given, is the pooled buffer `in` lies in: a large record may then come back as
  // pieces of the owners of the chunks it arrived in (Record::pieces). A call without an owner
  // while a record is being gathered that way copies what was gathered and goes on copying, so
  // a caller that runs short of buffers can stop pinning them at any chunk.
  Status next(std::span<const uint8_t>& in, Record& out, const Buffer* owner = nullptr) noexcept;

  const XdrError& error() const noexcept { return err_; }
  // True while part of a record has been consumed: end of stream now means a truncated record.
  bool mid_record() const noexcept { return header_have_ != 0 || fragments_ != 0; }
  // Bytes of the current partial record gathered so far (copied, or held in pieces).
  size_t buffered() const noexcept { return record_len_; }
  // Moves the storage of the record just returned (borrowed == false, no pieces) out of the
  // reader, so a caller can keep the record past the next call; the reader starts new storage.
  std::vector<uint8_t> take() noexcept;
  // Frees storage between records (for idle connections). No effect mid-record.
  void release_memory() noexcept;
  // Forgets everything, errors included, for a new stream (a reconnected client).
  void reset() noexcept;

 private:
  bool fail_too_large(uint64_t len, const uint8_t header[4]) noexcept;
  bool fail_no_space(size_t more) noexcept;
  bool start_pieces() noexcept;
  bool flatten() noexcept;  // pieces -> storage_: the record goes on by copy

  RecordOptions options_;
  uint8_t header_[4] = {};
  uint32_t header_have_ = 0;
  bool in_fragment_ = false;
  bool last_ = false;
  bool clear_pending_ = false;
  uint32_t frag_left_ = 0;
  uint32_t fragments_ = 0;
  size_t record_len_ = 0;
  bool pieced_ = false;     // the current record is gathered in pieces_, storage_ is its start
  bool copy_rest_ = false;  // the current record went back to copying: it stays so
  std::vector<uint8_t> storage_;
  std::vector<BufferPiece> pieces_;
  XdrError err_;
};

}  // namespace ringrpc::xdr
