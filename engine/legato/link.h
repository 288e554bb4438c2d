// One link between two rpcProxy systems (shared/reference/legato-rpc.md 1.8, 2): Legato's
// networkSocket link with its roles, keep-alive and reconnect, on a ringrpc event loop.
//
// A Link listens or connects (the role Legato picks at compile time is an option here), frames
// the byte stream into messages (wire.h), and answers keep-alives itself: every `keepalive` it
// sends a KEEPALIVE_REQUEST and expects the response within `keepalive_timeout` (the peer must
// echo our id and our name for it; one is in flight at a time), a request from the peer
// restarts our own period and is echoed back. The link goes DOWN on any read or parse error, a
// closed or reset connection, or a keep-alive timeout; a connecting link then tries again every
// `retry`, a listening one takes the next connection. As in Legato, a listening link serves one
// peer at a time: a second connection while one is UP is refused. Every other message goes to the
// handler.
//
// Lifetime: a Link may be destroyed at any time on its loop's thread; its connection is closed
// and nothing calls it afterwards (the stream's callbacks go to a small forwarder that outlives
// the Link until the loop has closed the stream).
//
// Threading: a Link belongs to its EventLoop's thread; everything, callbacks included, runs
// there.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>

#include "engine/legato/out_batch.h"
#include "engine/legato/wire.h"
#include "transport/event_loop.h"
#include "transport/socket.h"

namespace ringrpc::legato {

struct LinkTimers {
  std::chrono::milliseconds keepalive{120000};  // RPC_PROXY_NETWORK_KEEPALIVE_SERVICE_INTERVAL
  std::chrono::milliseconds keepalive_timeout{30000};  // ..._KEEPALIVE_TIMEOUT_TIMER_INTERVAL
  std::chrono::milliseconds retry{15000};              // ..._CONNECTION_RETRY_TIMER_INTERVAL
};

enum class LinkRole : uint8_t { kListen, kConnect };
enum class LinkState : uint8_t { kNotStarted, kDown, kUp };
const char* to_string(LinkState s) noexcept;  // "NOT STARTED", "DOWN", "UP", as rpctool says

// The link's argument string, Legato's networkSocket "IP PORT" (IPv4), and beyond Legato an
// IPv6 literal ("::1 54323") or "unix PATH". A listening link binds the address it is given
// (networkSocket binds INADDR_ANY whatever the IP says: give 0.0.0.0 for that). False, with the
// reason, on anything else.
bool parse_link_parameters(std::string_view params, transport::SockAddr& out, std::string* error);

// The le_comm seam (reference 2.1): a link kind, named in the declarations' links: section, turns
// the link's argument string into the address a Link listens on or connects to. Every kind is a
// stream socket the event loop runs, so the framing, keep-alive and reconnect above it are the
// same for all. networkSocket is Legato's one plug-in; here it also takes IPv6 literals and
// "unix PATH" (parse_link_parameters).
struct LinkKind {
  std::string_view name;
  bool (*parse)(std::string_view params, transport::SockAddr& out, std::string* error);
};
const LinkKind* find_link_kind(std::string_view name);
std::string link_kind_names();  // for messages: "networkSocket"

struct LinkOptions {
  std::string peer_name;  // our name for the remote system: the systemName of our keep-alives
  LinkRole role = LinkRole::kConnect;
  transport::SockAddr address;
  LinkTimers timers;
  ReaderLimits limits;
};

struct LinkStats {
  uint64_t messages_in = 0;
  uint64_t messages_out = 0;
  uint64_t bytes_in = 0;
  uint64_t bytes_out = 0;
  uint64_t keepalives_sent = 0;
  uint64_t keepalives_answered = 0;  // ours, answered in time
  // The peer's, echoed. Legato restarts its own period on each one, so with equal periods one
  // side may never send: a link is alive when either side's keep-alives are answered.
  uint64_t keepalives_received = 0;
  uint64_t ups = 0;
  uint64_t downs = 0;
};

class LinkHandler {
 public:
  virtual ~LinkHandler() = default;
  virtual void on_link_up() {}
  virtual void on_link_down(const std::string& why) { (void)why; }
  // Any message but a keep-alive. False, with the reason, takes the link down: Legato drops the
  // link on every protocol error.
  virtual bool on_message(Message& m, std::string* why) = 0;
  // A request or response in the data path's shape, in place (MessageReader::next_wrapped): the
  // same contract as on_message, without the copy into a Message. By default it is made one.
  virtual bool on_wrapped(const WrappedMessage& m, std::string* why);
  // The link's send queue, once over its high-water mark (congested()), has emptied.
  virtual void on_link_drained() {}
};

class Link final : public transport::AcceptHandler {
 public:
  Link(transport::EventLoop& loop, LinkOptions options, LinkHandler& handler);
  ~Link() override;
  Link(const Link&) = delete;
  Link& operator=(const Link&) = delete;

  // Listens or connects; from then on the link keeps itself up. False, with the reason, when a
  // listening socket cannot be bound (a connecting link reports failures as DOWN and retries).
  bool start(std::string* error);
  // Closes everything; no callback follows.
  void stop();

  // Queues a message (ids are the caller's: next_id()). False when the link is not UP or the
  // message cannot be encoded.
  bool send(const Message& m);
  // The data path's send, without an intermediate Message: a type 4, 5 or 8 message whose body
  // is one CBOR byte string holding `head` then `tail` (oncrpc.h: an RPC message, its first
  // bytes rewritten by the caller). False when the link is not UP. A large `tail` in receive
  // buffers (its owner or its pieces) is referenced, not copied (OutBatch::append_payload).
  bool send_wrapped(const Header& h, uint32_t msg_id, std::span<const uint8_t> head,
                    const Payload& tail = {});
  // Legato's GlobalMsgId: one counter per proxy, pre-incremented from 1, so the first is 2.
  uint32_t next_id() noexcept { return ++ids_; }

  LinkState state() const noexcept { return state_; }
  // More is queued than the peer has taken (Stream::kHighWater): senders should hold back until
  // the handler's on_link_drained().
  bool congested() const noexcept { return stream_ != nullptr && stream_->congested(); }
  const std::string& last_error() const noexcept { return last_error_; }
  const LinkStats& stats() const noexcept { return stats_; }
  // The bound address of a listening link (its port when 0 was asked for).
  const transport::SockAddr& local_address() const noexcept { return bound_; }
  const LinkOptions& options() const noexcept { return options_; }

  void on_accept(int fd, const transport::SockAddr& peer) override;

 private:
  class Sink;
  void on_connected(transport::Stream& s, int err);
  void on_data(transport::Stream& s, std::span<const uint8_t> data, const Buffer& owner);
  void on_eof(transport::Stream& s);
  void on_closed(transport::Stream& s, int err);
  void detach();  // forgets the stream; its forwarder drops what still comes
  class CallbackTimer final : public transport::Timer {
   public:
    explicit CallbackTimer(std::function<void()> fn) : fn_(std::move(fn)) {}
    ~CallbackTimer() override = default;
    void on_timer() override { fn_(); }

   private:
    std::function<void()> fn_;
  };

  void connect_now();
  void up();
  void down(const std::string& why);
  void send_keepalive();

  transport::EventLoop& loop_;
  LinkOptions options_;
  LinkHandler& handler_;
  LinkState state_ = LinkState::kNotStarted;
  transport::Stream* stream_ = nullptr;
  Sink* sink_ = nullptr;  // the forwarder of stream_; it deletes itself in on_closed
  transport::Listener* listener_ = nullptr;
  transport::SockAddr bound_;
  MessageReader reader_;
  Message rx_;
  OutBatch batch_{loop_};  // every send of an iteration in one message
  uint32_t ids_ = 1;
  uint32_t keepalive_id_ = 0;  // the id of the keep-alive we wait for, 0 when none
  bool stopped_ = false;
  std::string last_error_;
  LinkStats stats_;
  CallbackTimer keepalive_timer_;
  CallbackTimer timeout_timer_;
  CallbackTimer retry_timer_;
};

}  // namespace ringrpc::legato
