#include "codec/record_marking.h"

#include <algorithm>
#include <new>

#include "codec/byteswap.h"

namespace ringrpc::xdr {

namespace {
constexpr uint32_t kLastBit = 0x80000000u;

bool looks_like_text(const uint8_t h[4]) {
  for (int i = 0; i < 4; ++i) {
    if (h[i] < 0x20 || h[i] > 0x7e) return false;
  }
  return true;
}
}  // namespace

bool RecordReader::fail_too_large(uint64_t len, const uint8_t header[4]) noexcept {
  // "GET " read as a record mark announces 1.2 GB: say what is probably going on.
  err_ = {XdrErrc::kRecordTooLarge,
          static_cast<uint32_t>(std::min<size_t>(record_len_, UINT32_MAX)), len,
          options_.max_record,
          looks_like_text(header) ? "record (its mark is ASCII text: is the peer speaking HTTP "
                                    "or another text protocol?)"
                                  : "record"};
  return false;
}

bool RecordReader::fail_no_space(size_t more) noexcept {
  err_ = {XdrErrc::kNoSpace, static_cast<uint32_t>(std::min<size_t>(record_len_, UINT32_MAX)),
          record_len_ + more, 0, "record"};
  return false;
}

// What was copied of the record so far stays where it is, as its first piece.
bool RecordReader::start_pieces() noexcept {
  try {
    if (record_len_ != 0) pieces_.push_back({{storage_.data(), record_len_}, Buffer()});
  } catch (const std::bad_alloc&) {
    return fail_no_space(0);
  }
  pieced_ = true;
  return true;
}

bool RecordReader::flatten() noexcept {
  try {
    storage_.reserve(record_len_);
    // The first piece may be storage_'s own bytes (no owner): they are in place already.
    for (const BufferPiece& p : pieces_) {
      if (p.owner) storage_.insert(storage_.end(), p.bytes.begin(), p.bytes.end());
    }
  } catch (const std::bad_alloc&) {
    return fail_no_space(0);
  }
  pieces_.clear();
  pieced_ = false;
  copy_rest_ = true;  // once copying, the record stays copied: no churn between the two
  return true;
}

RecordReader::Status RecordReader::next(std::span<const uint8_t>& in, Record& out,
                                        const Buffer* owner) noexcept {
  if (!err_.ok()) return Status::kError;
  if (clear_pending_) {
    storage_.clear();
    pieces_.clear();  // drops the references to the last record's buffers
    pieced_ = false;
    copy_rest_ = false;
    clear_pending_ = false;
  }
  // Pieces only of bytes that really lie in the owner: anything else is copied.
  if (!lies_in(in, owner)) owner = nullptr;
  for (;;) {
    if (!in_fragment_) {
      // Fast path: at a record boundary with a whole single-fragment record in the chunk.
      if (header_have_ == 0 && fragments_ == 0 && in.size() >= 4) {
        const uint32_t h = load_be32(in.data());
        const uint32_t len = h & ~kLastBit;
        if (len > options_.max_record) {
          fail_too_large(len, in.data());
          return Status::kError;
        }
        if ((h & kLastBit) != 0 && in.size() - 4 >= len) {
          out = {in.subspan(4, len), true, 1, {}};
          in = in.subspan(4 + size_t{len});
          return Status::kRecord;
        }
      }
      while (header_have_ < 4 && !in.empty()) {
        header_[header_have_++] = in.front();
        in = in.subspan(1);
      }
      if (header_have_ < 4) return Status::kNeedMore;
      header_have_ = 0;
      const uint32_t h = load_be32(header_);
      const uint32_t len = h & ~kLastBit;
      if (uint64_t{record_len_} + len > options_.max_record) {
        fail_too_large(uint64_t{record_len_} + len, header_);
        return Status::kError;
      }
      last_ = (h & kLastBit) != 0;
      frag_left_ = len;
      in_fragment_ = true;
      ++fragments_;
    }
    const size_t k = std::min<size_t>(frag_left_, in.size());
    if (k != 0) {
      if (!pieced_ && !copy_rest_ && owner != nullptr && options_.reference_from != 0 &&
          frag_left_ >= options_.reference_from && !start_pieces()) {
        return Status::kError;
      }
      // A chunk that is all a sliver of a fragment's middle (a peer trickling bytes) would pin
      // a whole buffer for a few bytes: the record goes on by copy instead. (A chunk that only
      // ends with the small start of the next fragment, as libtirpc's 64 KiB fragments often
      // do in 64 KiB buffers, is no sliver.)
      const bool sliver = pieced_ && owner != nullptr && !pieces_.empty() && k < frag_left_ &&
                          k == in.size() && in.data() == owner->data() &&
                          k < options_.reference_from / 2;
      if (pieced_ && (owner == nullptr || sliver) && !flatten()) return Status::kError;
      // Storage grows with the bytes that arrived (vector doubling), never with a declared length.
      try {
        if (pieced_) {
          pieces_.push_back({in.first(k), *owner});
        } else {
          storage_.insert(storage_.end(), in.begin(), in.begin() + static_cast<ptrdiff_t>(k));
        }
      } catch (const std::bad_alloc&) {
        fail_no_space(k);
        return Status::kError;
      }
      in = in.subspan(k);
      frag_left_ -= static_cast<uint32_t>(k);
      record_len_ += k;
    }
    if (frag_left_ != 0) return Status::kNeedMore;
    in_fragment_ = false;
    if (last_) {
      if (pieced_) {
        out = {{}, false, fragments_, pieces_};
      } else {
        out = {std::span<const uint8_t>(storage_.data(), record_len_), false, fragments_, {}};
      }
      record_len_ = 0;
      fragments_ = 0;
      clear_pending_ = true;
      return Status::kRecord;
    }
  }
}

std::vector<uint8_t> RecordReader::take() noexcept {
  std::vector<uint8_t> taken;
  if (clear_pending_ && !pieced_) {
    taken.swap(storage_);
    clear_pending_ = false;
  }
  return taken;
}

void RecordReader::release_memory() noexcept {
  if (mid_record()) return;
  std::vector<uint8_t>().swap(storage_);
  std::vector<BufferPiece>().swap(pieces_);
  pieced_ = false;
  copy_rest_ = false;
  clear_pending_ = false;
}

void RecordReader::reset() noexcept {
  header_have_ = 0;
  in_fragment_ = false;
  last_ = false;
  clear_pending_ = false;
  frag_left_ = 0;
  fragments_ = 0;
  record_len_ = 0;
  storage_.clear();
  pieces_.clear();
  pieced_ = false;
  copy_rest_ = false;
  err_ = XdrError{};
}

}  // namespace ringrpc::xdr
