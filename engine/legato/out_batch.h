// Coalesced output to one stream: the proxy forwards many small messages to the same
// connection within one loop iteration (a link carries every call of every local client), and
// giving each its own send buffer and its own iovec costs more than forwarding it. An OutBatch
// appends them all to one message and hands that to the stream once, at the end of the
// iteration (EventLoop::defer), or sooner when it has grown past kFlushBytes.
//
// Threading: the loop's thread, like the stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>

#include "codec/buffer_piece.h"
#include "codec/byteswap.h"
#include "codec/xdr_writer.h"
#include "transport/event_loop.h"

namespace ringrpc::legato {

// Bytes to forward, as the reader left them: one span (in the receive buffer `owner`, when there
// is one), or, for a large message that arrived in several receive buffers, pieces of them
// (codec/buffer_piece.h). Valid while the reader's message or record is.
struct Payload {
  Payload() = default;
  Payload(std::span<const uint8_t> b, const Buffer* o = nullptr) noexcept : bytes(b), owner(o) {}
  explicit Payload(std::span<BufferPiece> p) noexcept : pieces(p) {}

  std::span<const uint8_t> bytes;
  const Buffer* owner = nullptr;
  std::span<BufferPiece> pieces;  // not empty: the bytes are these, and `bytes` is unused

  size_t size() const noexcept { return pieces.empty() ? bytes.size() : total_size(pieces); }
  void drop_front(size_t n) noexcept {
    if (pieces.empty()) {
      bytes = bytes.subspan(n);
    } else {
      ringrpc::drop_front(pieces, n);
    }
  }
  // The first `n` bytes (n <= size()), in place when they lie together, else copied to `copy`.
  const uint8_t* front(uint8_t* copy, size_t n) const noexcept {
    if (pieces.empty()) return bytes.data();
    copy_front(pieces, copy, n);
    return copy;
  }
};

// Whether the loop can spare receive buffers to be held past their handler (a payload kept by
// reference until sent, pieces of a large record being gathered): not once half of them are in
// use, since the loop must keep buffers to read with (the peers that drain our sends may be
// waiting for us to read them).
inline bool can_pin(transport::EventLoop& loop) noexcept {
  return loop.recv_pool().buffers_in_use() < loop.options().max_recv_buffers / 2;
}

class OutBatch final : public transport::Deferred {
 public:
  static constexpr size_t kFlushBytes = 256 * 1024;

  explicit OutBatch(transport::EventLoop& loop) : loop_(loop) {}
  ~OutBatch() override { discard(); }

  // The stream to send to (nullptr: none); what was batched for the previous one is dropped.
  void attach(transport::Stream* s) {
    discard();
    stream_ = s;
  }
  transport::Stream* stream() const noexcept { return stream_; }

  // Appends the concatenation of the parts. False when there is no open stream.
  bool append(std::span<const uint8_t> a, std::span<const uint8_t> b = {},
              std::span<const uint8_t> c = {}, std::span<const uint8_t> d = {}) {
    if (!open()) return false;
    // Small messages fit the current buffer whole: one bounds check, then the copies.
    if (uint8_t* p = w_->reserve(a.size() + b.size() + c.size() + d.size())) {
      copy(p, a);
      copy(p, b);
      copy(p, c);
      copy(p, d);
    } else if (!put(a) || !put(b) || !put(c) || !put(d)) {
      discard();
      return false;
    }
    return true;
  }
  // Payloads from this size up that lie in a receive buffer the caller holds are referenced in
  // the batch, which keeps the buffer until the stream has sent them, instead of copied: a
  // proxy forwarding a 30 KiB reply would otherwise copy it once more on its way through. Not
  // to a congested stream (the buffer would be held for as long as it stays so), and not while
  // the loop cannot spare buffers (can_pin).
  static constexpr size_t kReferenceBytes = 2048;
  bool can_reference(std::span<const uint8_t> p, const Buffer* owner) const noexcept {
    return p.size() >= kReferenceBytes && lies_in(p, owner) && stream_ != nullptr &&
           !stream_->congested() && can_pin(loop_);
  }
  // Appends `p`, which lies in `owner`, by reference (see can_reference).
  bool append_ref(std::span<const uint8_t> p, const Buffer& owner) {
    if (!open()) return false;
    if (!w_->put_bytes_ref(p, owner)) {
      discard();
      return false;
    }
    return true;
  }

  // `n` bytes at the end of the batch for the caller to fill at once, or nullptr: no open
  // stream, or they would not be contiguous (then append() them).
  uint8_t* reserve(size_t n) { return open() ? w_->reserve(n) : nullptr; }

  // The bytes of `p`: a large span inside its owner, and large pieces, by reference.
  bool append_payload(const Payload& p) {
    if (p.pieces.empty())
      return can_reference(p.bytes, p.owner) ? append_ref(p.bytes, *p.owner) : append(p.bytes);
    for (const BufferPiece& piece : p.pieces) {
      const bool ok = can_reference(piece.bytes, &piece.owner)
                          ? append_ref(piece.bytes, piece.owner)
                          : append(piece.bytes);
      if (!ok) return false;
    }
    return true;
  }

  // One RPC record (RFC 5531 11) of `head` then `tail`, in a single last fragment; a large tail
  // by reference.
  bool append_record(std::span<const uint8_t> head, const Payload& tail = {}) {
    if (!tail.pieces.empty()) {
      uint8_t mark[4];
      xdr::store_be32(mark, static_cast<uint32_t>(0x80000000u | (head.size() + tail.size())));
      return append(mark, head) && append_payload(tail);
    }
    return append_record(head, tail.bytes, tail.owner);
  }
  bool append_record(std::span<const uint8_t> head, std::span<const uint8_t> tail,
                     const Buffer* owner) {
    const size_t n = head.size() + tail.size();
    if (can_reference(tail, owner)) {
      uint8_t mark[4];
      xdr::store_be32(mark, static_cast<uint32_t>(0x80000000u | n));
      return append(mark, head) && append_ref(tail, *owner);
    }
    if (uint8_t* p = reserve(4 + n)) {
      xdr::store_be32(p, static_cast<uint32_t>(0x80000000u | n));
      p += 4;
      copy(p, head);
      copy(p, tail);
      return true;
    }
    uint8_t mark[4];
    xdr::store_be32(mark, static_cast<uint32_t>(0x80000000u | n));
    return append(mark, head, tail);
  }

  // Copies that the data path makes for every message: calls and replies are small, and their
  // heads (an xid, a call header) smaller still, so short ones go by overlapping fixed-size
  // moves, which the compiler inlines, instead of a call into memcpy.
  static void copy(uint8_t*& to, std::span<const uint8_t> p) noexcept {
    const size_t n = p.size();
    const uint8_t* from = p.data();
    if (n > 32 && n <= 64) {
      std::memcpy(to, from, 32);
      std::memcpy(to + n - 32, from + n - 32, 32);
    } else if (n > 16 && n <= 32) {
      std::memcpy(to, from, 16);
      std::memcpy(to + n - 16, from + n - 16, 16);
    } else if (n >= 8 && n <= 16) {
      std::memcpy(to, from, 8);
      std::memcpy(to + n - 8, from + n - 8, 8);
    } else if (n >= 4 && n < 8) {
      std::memcpy(to, from, 4);
      std::memcpy(to + n - 4, from + n - 4, 4);
    } else if (n != 0) {
      std::memcpy(to, from, n);
    }
    to += n;
  }

  // Hands what is batched to the stream now.
  void flush() {
    loop_.cancel(*this);
    if (!w_) return;
    const bool ok = w_->finish();
    w_.reset();
    if (ok && stream_ != nullptr && !stream_->closing()) stream_->send(std::move(out_));
    out_.clear();
  }
  // Drops what is batched (the stream is going away).
  void discard() {
    loop_.cancel(*this);
    w_.reset();
    out_.clear();
  }
  void run_deferred() override { flush(); }

 private:
  bool put(std::span<const uint8_t> p) { return p.empty() || w_->put_bytes(p.data(), p.size()); }
  // Ready to take bytes: a stream to send to, and a batch started (the one before handed over
  // first if it has passed kFlushBytes).
  bool open() {
    if (stream_ == nullptr || stream_->closing()) return false;
    if (w_ && w_->size() >= kFlushBytes) flush();
    if (!w_) {
      xdr::EncodeOptions raw;
      raw.record_mark = false;
      w_.emplace(loop_.send_pool(), out_, raw);
      loop_.defer(*this);
    }
    return true;
  }

  transport::EventLoop& loop_;
  transport::Stream* stream_ = nullptr;
  xdr::OutMessage out_;
  std::optional<xdr::XdrWriter> w_;
};

}  // namespace ringrpc::legato
