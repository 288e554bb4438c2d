#include "engine/legato/link.h"

#include <unistd.h>

#include <cstring>
#include <sstream>
#include <vector>

#include "codec/byteswap.h"

namespace ringrpc::legato {

using transport::SockAddr;
using transport::Stream;

const char* to_string(LinkState s) noexcept {
  switch (s) {
    case LinkState::kNotStarted:
      return "NOT STARTED";
    case LinkState::kDown:
      return "DOWN";
    case LinkState::kUp:
      return "UP";
  }
  return "UNKNOWN";
}

bool parse_link_parameters(std::string_view params, SockAddr& out, std::string* error) {
  std::istringstream in{std::string(params)};
  std::vector<std::string> words;
  for (std::string w; in >> w;) words.push_back(w);
  if (words.size() == 2 && words[0] == "unix") {
    if (!SockAddr::unix_path(words[1], out)) {
      *error = "the Unix socket path '" + words[1] + "' is too long";
      return false;
    }
    return true;
  }
  if (words.size() != 2) {
    *error =
        "link parameters are \"IP PORT\" (or \"unix PATH\"), not \"" + std::string(params) + "\"";
    return false;
  }
  char* end = nullptr;
  const unsigned long port = std::strtoul(words[1].c_str(), &end, 10);
  if (words[1].empty() || *end != '\0' || port > 65535) {
    *error = "'" + words[1] + "' is not a TCP port (0-65535)";
    return false;
  }
  if (!SockAddr::parse_ip(words[0], static_cast<uint16_t>(port), out)) {
    *error = "'" + words[0] + "' is not a numeric IPv4 or IPv6 address";
    return false;
  }
  return true;
}

namespace {
constexpr LinkKind kLinkKinds[] = {
    {"networkSocket", parse_link_parameters},
};
}  // namespace

const LinkKind* find_link_kind(std::string_view name) {
  for (const LinkKind& k : kLinkKinds) {
    if (k.name == name) return &k;
  }
  return nullptr;
}

std::string link_kind_names() {
  std::string out;
  for (const LinkKind& k : kLinkKinds) {
    if (!out.empty()) out += ", ";
    out += k.name;
  }
  return out;
}

// Forwards a stream's callbacks to its Link while the Link wants them, and frees itself when the
// stream is gone: the loop may call it after the Link has been destroyed.
class Link::Sink final : public transport::StreamHandler {
 public:
  explicit Sink(Link* link) : link_(link) {}
  void forget() noexcept { link_ = nullptr; }
  void on_connected(Stream& s, int err) override {
    if (link_ != nullptr) link_->on_connected(s, err);
  }
  void on_data(Stream& s, std::span<const uint8_t> data, const Buffer& owner) override {
    if (link_ != nullptr) link_->on_data(s, data, owner);
  }
  void on_eof(Stream& s) override {
    if (link_ != nullptr) {
      link_->on_eof(s);
    } else {
      s.close();
    }
  }
  void on_drained(Stream& s) override {
    (void)s;
    if (link_ != nullptr && link_->state_ == LinkState::kUp) link_->handler_.on_link_drained();
  }
  void on_closed(Stream& s, int err) override {
    if (link_ != nullptr) link_->on_closed(s, err);
    delete this;
  }
  ~Sink() override = default;

 private:
  Link* link_;
};

Link::Link(transport::EventLoop& loop, LinkOptions options, LinkHandler& handler)
    : loop_(loop),
      options_(std::move(options)),
      handler_(handler),
      reader_(options_.limits),
      keepalive_timer_([this] { send_keepalive(); }),
      timeout_timer_([this] {
        down("no KEEPALIVE_RESPONSE within " +
             std::to_string(options_.timers.keepalive_timeout.count()) + " ms");
      }),
      retry_timer_([this] { connect_now(); }) {}

Link::~Link() { stop(); }

bool Link::start(std::string* error) {
  stopped_ = false;
  state_ = LinkState::kDown;
  if (options_.role == LinkRole::kConnect) {
    connect_now();
    return true;
  }
  bound_ = options_.address;
  transport::ListenOptions lo;
  lo.backlog = 100;  // networkSocket's
  transport::IoError e;
  const int fd = transport::listen_stream(bound_, lo, e);
  if (fd < 0) {
    *error = e.to_string();
    last_error_ = *error;
    return false;
  }
  listener_ = loop_.add_listener(fd, *this);
  return true;
}

void Link::stop() {
  stopped_ = true;
  loop_.disarm(keepalive_timer_);
  loop_.disarm(timeout_timer_);
  loop_.disarm(retry_timer_);
  if (listener_ != nullptr) {
    loop_.close_listener(listener_);
    listener_ = nullptr;
  }
  detach();
  state_ = LinkState::kNotStarted;
}

void Link::detach() {
  batch_.attach(nullptr);
  if (stream_ == nullptr) return;
  sink_->forget();
  if (!stream_->closing()) stream_->close();
  stream_ = nullptr;
  sink_ = nullptr;
}

void Link::connect_now() {
  if (stopped_ || stream_ != nullptr) return;
  transport::IoError e;
  auto* sink = new Sink(this);
  stream_ = loop_.connect(options_.address, *sink, e);
  if (stream_ == nullptr) {
    delete sink;
    last_error_ = e.to_string();
    loop_.arm_after(retry_timer_, options_.timers.retry);
    return;
  }
  sink_ = sink;
}

void Link::on_connected(Stream& s, int err) {
  (void)s;
  if (err != 0) {
    last_error_ =
        std::string("connect ") + options_.address.to_string() + ": " + std::strerror(err);
    return;  // on_closed follows and schedules the next try
  }
  up();
}

void Link::on_accept(int fd, const SockAddr& peer) {
  if (stopped_ || stream_ != nullptr) {
    // Legato's networkSocket serves one peer: "Rejecting Client socket connection".
    ::close(fd);
    return;
  }
  transport::prepare_accepted(fd);
  auto* sink = new Sink(this);
  stream_ = loop_.add_stream(fd, *sink, peer);
  if (stream_ == nullptr) {
    delete sink;
    return;
  }
  sink_ = sink;
  up();
}

void Link::up() {
  state_ = LinkState::kUp;
  batch_.attach(stream_);
  reader_.reset();
  keepalive_id_ = 0;
  ++stats_.ups;
  loop_.arm_after(keepalive_timer_, options_.timers.keepalive);
  handler_.on_link_up();
}

void Link::down(const std::string& why) {
  const bool was_up = state_ == LinkState::kUp;
  state_ = LinkState::kDown;
  last_error_ = why;
  keepalive_id_ = 0;
  loop_.disarm(keepalive_timer_);
  loop_.disarm(timeout_timer_);
  batch_.attach(nullptr);
  // A message half read may hold pieces of receive buffers: let them go now. (`why` may be the
  // reader's own error, which the reset clears: last_error_ has it.)
  reader_.reset();
  rx_.payload_pieces.clear();
  if (stream_ != nullptr && !stream_->closing()) stream_->close();
  if (was_up) {
    ++stats_.downs;
    const std::string reason = last_error_;  // the handler may start the link again
    handler_.on_link_down(reason);
  }
}

void Link::on_eof(Stream& s) {
  (void)s;
  down("the peer closed the link");
}

void Link::on_closed(Stream& s, int err) {
  (void)s;
  batch_.attach(nullptr);
  stream_ = nullptr;
  sink_ = nullptr;  // it frees itself when this returns
  if (stopped_) return;
  if (state_ == LinkState::kUp) {
    down(err != 0 ? std::string("link error: ") + std::strerror(err) : "the link closed");
  }
  if (options_.role == LinkRole::kConnect) loop_.arm_after(retry_timer_, options_.timers.retry);
}

bool LinkHandler::on_wrapped(const WrappedMessage& w, std::string* why) {
  Message m;
  m.header = w.header;
  m.msg_id = w.msg_id;
  m.body.assign(w.body.begin(), w.body.end());
  return on_message(m, why);
}

void Link::on_data(Stream& s, std::span<const uint8_t> data, const Buffer& owner) {
  stats_.bytes_in += data.size();
  while (!s.closing() && state_ == LinkState::kUp) {
    // Calls and replies, whole in this chunk, go to the handler where they lie.
    WrappedMessage w;
    if (reader_.next_wrapped(data, w)) {
      w.owner = &owner;
      ++stats_.messages_in;
      std::string why;
      if (!handler_.on_wrapped(w, &why)) {
        down(why);
        return;
      }
      continue;
    }
    Message& m = rx_;  // reused: the reader swaps buffers with it, so no allocation per message
    // With the owner, a large payload comes as pieces of the receive buffers, forwarded without a
    // copy, while the loop can spare the buffers (can_pin).
    const MessageReader::Status st = reader_.next(data, m, can_pin(loop_) ? &owner : nullptr);
    if (st == MessageReader::Status::kNeedMore) return;
    if (st == MessageReader::Status::kError) {
      down(reader_.error());
      return;
    }
    ++stats_.messages_in;
    if (m.header.type == MsgType::kKeepAliveRequest) {
      // The peer's keep-alive restarts our own period; the answer echoes id and name.
      loop_.arm_after(keepalive_timer_, options_.timers.keepalive);
      m.header.type = MsgType::kKeepAliveResponse;
      if (send(m)) ++stats_.keepalives_received;
      continue;
    }
    if (m.header.type == MsgType::kKeepAliveResponse) {
      // Legato deletes the timer found by id, after checking the peer echoed our name for it.
      if (keepalive_id_ != 0 && m.header.id == keepalive_id_ &&
          m.system_name == options_.peer_name) {
        keepalive_id_ = 0;
        ++stats_.keepalives_answered;
        loop_.disarm(timeout_timer_);
      }
      continue;
    }
    std::string why;
    const bool ok = handler_.on_message(m, &why);
    m.payload_pieces.clear();  // the buffers are the handler's to keep now, or free
    if (!ok) {
      down(why);
      return;
    }
  }
}

bool Link::send(const Message& m) {
  if (state_ != LinkState::kUp || stream_ == nullptr || stream_->closing()) return false;
  std::vector<uint8_t> bytes;
  if (!encode(m, bytes)) return false;
  if (!batch_.append(bytes)) return false;
  ++stats_.messages_out;
  stats_.bytes_out += bytes.size();
  return true;
}

bool Link::send_wrapped(const Header& h, uint32_t msg_id, std::span<const uint8_t> head,
                        const Payload& payload) {
  if (state_ != LinkState::kUp || stream_ == nullptr || stream_->closing()) return false;
  if (!has_msg_id(h.type)) return false;
  const std::span<const uint8_t> tail = payload.bytes;  // when not in pieces
  const Buffer* owner = payload.owner;
  // 9-byte header, msgId, 0x9F, the byte string's head (0x40 | length, shortest form), the bytes,
  // 0xFF: the layout wire.cc's encode() produces for the same message.
  const size_t len = head.size() + payload.size();
  const size_t string_head = len < 24 ? 1 : len <= 0xFF ? 2 : len <= 0xFFFF ? 3 : 5;
  const size_t prefix = kHeaderSize + 4 + 1 + string_head;
  uint8_t pre[kHeaderSize + 4 + 1 + 5];
  auto write_prefix = [&](uint8_t* p) {
    xdr::store_be32(p, h.id);
    xdr::store_be32(p + 4, h.service_id);
    p[8] = static_cast<uint8_t>(h.type);
    xdr::store_be32(p + kHeaderSize, msg_id);
    p += kHeaderSize + 4;
    *p++ = 0x9F;
    if (string_head == 1) {
      *p = static_cast<uint8_t>(0x40 | len);
    } else if (string_head == 2) {
      p[0] = 0x58;
      p[1] = static_cast<uint8_t>(len);
    } else if (string_head == 3) {
      p[0] = 0x59;
      p[1] = static_cast<uint8_t>(len >> 8);
      p[2] = static_cast<uint8_t>(len);
    } else {
      p[0] = 0x5A;
      xdr::store_be32(p + 1, static_cast<uint32_t>(len));
    }
  };
  static constexpr uint8_t kBreak[1] = {0xFF};
  if (!payload.pieces.empty()) {
    write_prefix(pre);
    if (!batch_.append({pre, prefix}, head) || !batch_.append_payload(payload) ||
        !batch_.append(kBreak)) {
      return false;
    }
  } else if (batch_.can_reference(tail, owner)) {
    uint8_t* p = batch_.reserve(prefix + head.size());
    if (p == nullptr) {
      write_prefix(pre);
      if (!batch_.append({pre, prefix}, head)) return false;
    } else {
      write_prefix(p);
      p += prefix;
      OutBatch::copy(p, head);
    }
    if (!batch_.append_ref(tail, *owner) || !batch_.append(kBreak)) return false;
  } else if (uint8_t* p = batch_.reserve(prefix + len + 1)) {
    write_prefix(p);
    p += prefix;
    OutBatch::copy(p, head);
    OutBatch::copy(p, tail);
    *p = 0xFF;
  } else {
    write_prefix(pre);
    if (!batch_.append({pre, prefix}, head, tail, kBreak)) return false;
  }
  ++stats_.messages_out;
  stats_.bytes_out += prefix + len + 1;
  return true;
}

void Link::send_keepalive() {
  if (state_ != LinkState::kUp) return;
  if (keepalive_id_ != 0) {
    // One keep-alive in flight at a time, so that its timeout is never pushed back by the next
    // one (with Legato's defaults, 120 s period and 30 s timeout, this cannot happen anyway).
    loop_.arm_after(keepalive_timer_, options_.timers.keepalive);
    return;
  }
  Message ka;
  ka.header = {next_id(), 0, MsgType::kKeepAliveRequest};
  ka.system_name = options_.peer_name;
  if (!send(ka)) return;
  ++stats_.keepalives_sent;
  keepalive_id_ = ka.header.id;
  loop_.arm_after(timeout_timer_, options_.timers.keepalive_timeout);
  loop_.arm_after(keepalive_timer_, options_.timers.keepalive);
}

}  // namespace ringrpc::legato
