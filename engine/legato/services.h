// The services one proxy shares with one remote system over a Link: Legato's connect-service
// handshake (shared/reference/legato-rpc.md 1.4), both ways.
//
//  - A *want* is a binding whose service runs on the remote system (Legato's serverReference
//    with a binding to that system): on link-up we send CONNECT_SERVICE_REQUEST with a service
//    id of our choosing, our name for the peer, the peer's alias for the service and the
//    protocol id, and send it again every `resend` until a response with code 0 comes; then the
//    want is connected (the proxy can offer the service locally). A DISCONNECT_SERVICE from the
//    peer (its real server went away) disconnects it and starts the requests again at once.
//  - An *offer* is a service of ours the peer may ask for (Legato's clientReference): a request
//    for it is answered LE_DUPLICATE (-14) if it is already connected, LE_UNAVAILABLE (-21) if we
//    have no such alias, LE_FORMAT_ERROR (-13) if the protocol ids differ, else with what the
//    handler's open() says (it reaches the real server); the answer echoes the request with type
//    2 and the code. Closing an offer (the real server went away) sends DISCONNECT_SERVICE.
//  - Link down disconnects everything; link up starts the wants' requests again.
// Messages 4, 5, 8 and 9 go to the handler with the want or offer their service id names.
//
// Threading: on the Link's loop thread, as the Link.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "engine/legato/link.h"

namespace ringrpc::legato {

struct Want {
  std::string local_alias;     // our extern alias (the binding's serviceName)
  std::string remote_service;  // the peer's alias for it (the binding's remoteService)
  std::string protocol_id;
  uint32_t service_id = 0;  // ours, non-zero, fixed for the want's life
  bool connected = false;
  int32_t last_code = 0;  // the last refusal, for status
};

struct Offer {
  std::string alias;  // our extern alias the peer names in its requests
  std::string protocol_id;
  uint32_t service_id = 0;  // the peer's, while connected
  bool connected = false;
  void* user = nullptr;  // for the handler (set by open_offer)
};

// A data message (types 4, 5, 8, 9) as the handler sees it. `body` may point into the receive
// buffer: it is valid only during on_data().
struct DataMessage {
  Header header;
  uint32_t msg_id = 0;            // types 4, 5, 8
  std::span<const uint8_t> body;  // the CBOR array as received, 9F ... FF
  // Set when the reader took the body as exactly one definite byte string (how ONC RPC rides,
  // oncrpc.h): that string's bytes, found without parsing the body again.
  std::optional<std::span<const uint8_t>> payload;
  const Buffer* owner = nullptr;  // WrappedMessage::owner, when there is one
  // Message::payload_pieces: a large payload gathered by reference; `body` then lacks its bytes.
  std::span<BufferPiece> pieces;
};

class ServicesHandler {
 public:
  virtual ~ServicesHandler() = default;
  virtual void on_want_connected(Want& w) { (void)w; }
  virtual void on_want_disconnected(Want& w) { (void)w; }
  // The peer asks for `o`: reach the real server; 0 (LE_OK) or an le_result_t to refuse with.
  virtual int32_t open_offer(Offer& o) {
    (void)o;
    return kLeOk;
  }
  virtual void on_offer_closed(Offer& o) { (void)o; }
  // A data message (types 4, 5, 8, 9) for a connected want (`w`) or offer (`o`), whichever its
  // service id names; false (with the reason) takes the link down.
  virtual bool on_data(const DataMessage& m, Want* w, Offer* o, std::string* why) = 0;
  virtual void on_link_up() {}
  virtual void on_link_down(const std::string& why) { (void)why; }
  virtual void on_link_drained() {}
};

class Services final : public LinkHandler {
 public:
  // `link_options` as for Link; `resend`: Legato's
  // RPC_PROXY_CONNECT_SERVICE_REQUEST_TIMER_INTERVAL.
  Services(transport::EventLoop& loop, LinkOptions link_options, ServicesHandler& handler,
           std::chrono::milliseconds resend = std::chrono::seconds(15));
  ~Services() override;

  bool start(std::string* error) { return link_.start(error); }
  // Closes the link; what was connected is disconnected (with its callbacks) as on link loss.
  void stop();
  Link& link() noexcept { return link_; }
  const Link& link() const noexcept { return link_; }

  // Adds a want or an offer (before or after start). False when the alias is already there.
  bool add_want(const std::string& local_alias, const std::string& remote_service,
                const std::string& protocol_id);
  bool add_offer(const std::string& alias, const std::string& protocol_id);
  // Removes one: a connected want is simply forgotten (the peer keeps its session until the link
  // goes; Legato has no message for it), a connected offer sends DISCONNECT_SERVICE first.
  bool remove_want(const std::string& local_alias);
  bool remove_offer(const std::string& alias);
  // The real server behind a connected offer went away: tell the peer.
  void close_offer(const std::string& alias);

  Want* want(const std::string& local_alias);
  Offer* offer(const std::string& alias);
  const std::vector<std::unique_ptr<Want>>& wants() const noexcept { return wants_; }
  const std::vector<std::unique_ptr<Offer>>& offers() const noexcept { return offers_; }

  // LinkHandler
  void on_link_up() override;
  void on_link_down(const std::string& why) override;
  bool on_message(Message& m, std::string* why) override;
  bool on_wrapped(const WrappedMessage& m, std::string* why) override;
  void on_link_drained() override { handler_.on_link_drained(); }

 private:
  struct Resend;
  void request(Want& w);
  void arm_resend(Want& w);
  bool on_data(const DataMessage& m, std::string* why);
  Message connect_message(const Want& w, MsgType type, uint32_t id) const;

  transport::EventLoop& loop_;
  ServicesHandler& handler_;
  std::chrono::milliseconds resend_;
  Link link_;
  std::vector<std::unique_ptr<Want>> wants_;
  std::vector<std::unique_ptr<Offer>> offers_;
  std::vector<std::unique_ptr<Resend>> resends_;  // one per want, same order
  uint32_t next_service_id_ = 0;
};

}  // namespace ringrpc::legato
