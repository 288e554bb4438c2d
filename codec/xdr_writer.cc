#include "codec/xdr_writer.h"

#include <algorithm>
#include <cstdint>

#include "codec/check.h"

namespace ringrpc::xdr {

std::vector<uint8_t> OutMessage::flatten() const {
  std::vector<uint8_t> bytes;
  bytes.reserve(size_);
  for (const iovec& v : iov()) {
    const auto* p = static_cast<const uint8_t*>(v.iov_base);
    bytes.insert(bytes.end(), p, p + v.iov_len);
  }
  return bytes;
}

void XdrWriter::bad_arguments() noexcept {
  RINGRPC_CHECK(false, "XdrWriter needs an empty OutMessage and max_fragment in 1..2^31-1");
  __builtin_unreachable();
}

bool XdrWriter::fail(XdrErrc code, uint64_t value, uint64_t limit, const char* what) noexcept {
  if (err_.ok()) {
    err_.code = code;
    err_.offset = static_cast<uint32_t>(std::min<size_t>(size(), UINT32_MAX));
    err_.value = value;
    err_.limit = limit;
    err_.what = what;
  }
  limit_ = cur_;  // every later fast path falls through to a slow path that sees !ok()
  return false;
}

void XdrWriter::set_limit() noexcept {
  sync();
  const size_t room = static_cast<size_t>(seg_end_ - cur_);
  limit_ = cur_ + std::min(room, frag_left_);
}

bool XdrWriter::next_segment(const char* what) noexcept {
  sync();
  close_iov();
  bytes_before_ += static_cast<size_t>(cur_ - seg_base_);
  Buffer b = pool_.acquire();
  if (!b) return fail(XdrErrc::kNoSpace, pool_.buffer_size(), 0, what);
  cur_ = b.data();
  seg_end_ = cur_ + b.capacity();
  seg_base_ = iov_start_ = frag_base_ = cur_;
  out_.add_buffer(std::move(b));
  set_limit();
  return true;
}

// The current fragment is full and more bytes follow: its header gets the full length without
// the last-fragment bit, and a header for the next fragment is reserved where we are.
bool XdrWriter::next_fragment(const char* what) noexcept {
  store_be32(header_, max_fragment_);
  if (seg_end_ - cur_ < 4 && !next_segment(what)) return false;
  bytes_before_ += static_cast<size_t>(cur_ - seg_base_);
  header_ = cur_;
  cur_ += 4;
  seg_base_ = frag_base_ = cur_;
  frag_left_ = max_fragment_;
  set_limit();
  return true;
}

bool XdrWriter::put_bytes_slow(const uint8_t* p, size_t n, const char* what) noexcept {
  if (!ok() || finished_) return false;
  while (n > 0) {
    sync();
    if (frag_left_ == 0) {
      if (!next_fragment(what)) return false;
      continue;
    }
    if (cur_ == seg_end_) {
      if (!next_segment(what)) return false;
      continue;
    }
    const size_t k = std::min({n, frag_left_, static_cast<size_t>(seg_end_ - cur_)});
    std::memcpy(cur_, p, k);
    cur_ += k;
    p += k;
    n -= k;
  }
  set_limit();
  return true;
}

bool XdrWriter::put_array_slow(const void* src, size_t n, size_t item) noexcept {
  if (!ok() || finished_) return false;
  const auto* s = static_cast<const uint8_t*>(src);
  while (n > 0) {
    sync();
    const size_t room = std::min(frag_left_, static_cast<size_t>(seg_end_ - cur_));
    const size_t k = std::min(n, room / item);
    if (k == 0) {
      // Not even one item fits before a segment or fragment boundary: send one through the
      // byte path, which knows how to split it.
      uint8_t b[8];
      if (item == 4) {
        swap32_n(s, b, 1);
      } else {
        swap64_n(s, b, 1);
      }
      if (!put_bytes_slow(b, item, "array")) return false;
      s += item;
      --n;
      continue;
    }
    if (item == 4) {
      swap32_n(s, cur_, k);
    } else {
      swap64_n(s, cur_, k);
    }
    cur_ += k * item;
    s += k * item;
    n -= k;
  }
  set_limit();
  return true;
}

bool XdrWriter::put_opaque_ref(std::span<const uint8_t> data, uint32_t max,
                               const char* what) noexcept {
  if (!put_length(data.size(), max, what)) return false;
  return put_iov_ref(data, what) && put_padding(data.size());
}

// The bytes become iovecs of their own, cut at fragment boundaries; the writer goes on in its
// buffer after them.
bool XdrWriter::put_iov_ref(std::span<const uint8_t> data, const char* what) noexcept {
  if (finished_) return false;
  const uint8_t* p = data.data();
  size_t n = data.size();
  while (n > 0) {
    sync();
    if (frag_left_ == 0) {
      if (!next_fragment(what)) return false;
      continue;
    }
    const size_t k = std::min(n, frag_left_);
    close_iov();
    out_.add_iov({const_cast<uint8_t*>(p), k});
    out_.size_ += k;
    bytes_before_ += static_cast<size_t>(cur_ - seg_base_) + k;
    seg_base_ = cur_;
    frag_left_ -= k;
    p += k;
    n -= k;
  }
  set_limit();
  return true;
}

bool XdrWriter::put_bytes_ref(std::span<const uint8_t> data, const Buffer& owner) noexcept {
  if (!ok() || !put_iov_ref(data, "bytes")) return false;
  if (!data.empty()) out_.add_buffer(Buffer(owner));
  return true;
}

}  // namespace ringrpc::xdr
