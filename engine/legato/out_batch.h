// Coalesced output to one stream: the proxy forwards many small messages to the same
// connection within one loop iteration (a link carries every call of every local client), and
// giving each its own send buffer and its own iovec costs more than forwarding it. An OutBatch
// appends them all to one message and hands that to the stream once, at the end of the
// iteration (EventLoop::defer), or sooner when it grows past kFlushBytes.
//
// Threading: the loop's thread, like the stream.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "codec/xdr_writer.h"
#include "transport/event_loop.h"

namespace ringrpc::legato {

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
    if (stream_ == nullptr || stream_->closing()) return false;
    if (!w_) {
      xdr::EncodeOptions raw;
      raw.record_mark = false;
      w_.emplace(loop_.send_pool(), out_, raw);
      loop_.defer(*this);
    }
    if (!put(a) || !put(b) || !put(c) || !put(d)) {
      discard();
      return false;
    }
    if (w_->size() >= kFlushBytes) flush();
    return true;
  }
  // One RPC record (RFC 5531 11) of `head` then `tail`, in a single last fragment.
  bool append_record(std::span<const uint8_t> head, std::span<const uint8_t> tail = {}) {
    const size_t n = head.size() + tail.size();
    const uint8_t mark[4] = {static_cast<uint8_t>(0x80 | (n >> 24)), static_cast<uint8_t>(n >> 16),
                             static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
    return append(mark, head, tail);
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

  transport::EventLoop& loop_;
  transport::Stream* stream_ = nullptr;
  xdr::OutMessage out_;
  std::optional<xdr::XdrWriter> w_;
};

}  // namespace ringrpc::legato
