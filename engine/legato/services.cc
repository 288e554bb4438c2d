#include "engine/legato/services.h"

#include <algorithm>

namespace ringrpc::legato {

struct Services::Resend final : transport::Timer {
  Resend(Services& s, Want& w) : services(s), want(w) {}
  ~Resend() override = default;
  void on_timer() override { services.request(want); }
  Services& services;
  Want& want;
  uint32_t request_id = 0;  // Legato re-sends the same message, id included
};

Services::Services(transport::EventLoop& loop, LinkOptions link_options, ServicesHandler& handler,
                   std::chrono::milliseconds resend)
    : loop_(loop),
      handler_(handler),
      resend_(resend),
      link_(loop, std::move(link_options), *this) {}

Services::~Services() {
  for (auto& r : resends_) loop_.disarm(*r);
  link_.stop();
}

void Services::stop() {
  const bool was_up = link_.state() == LinkState::kUp;
  link_.stop();
  if (was_up) on_link_down("stopped");
}

bool Services::add_want(const std::string& local_alias, const std::string& remote_service,
                        const std::string& protocol_id) {
  if (want(local_alias) != nullptr) return false;
  auto w = std::make_unique<Want>();
  w->local_alias = local_alias;
  w->remote_service = remote_service;
  w->protocol_id = protocol_id;
  // Legato's service ids are safe references: opaque and never 0.
  if (++next_service_id_ == 0) ++next_service_id_;
  w->service_id = next_service_id_;
  wants_.push_back(std::move(w));
  resends_.push_back(std::make_unique<Resend>(*this, *wants_.back()));
  if (link_.state() == LinkState::kUp) request(*wants_.back());
  return true;
}

bool Services::add_offer(const std::string& alias, const std::string& protocol_id) {
  if (offer(alias) != nullptr) return false;
  auto o = std::make_unique<Offer>();
  o->alias = alias;
  o->protocol_id = protocol_id;
  offers_.push_back(std::move(o));
  return true;
}

bool Services::remove_want(const std::string& local_alias) {
  for (size_t i = 0; i < wants_.size(); ++i) {
    if (wants_[i]->local_alias != local_alias) continue;
    loop_.disarm(*resends_[i]);
    if (wants_[i]->connected) {
      wants_[i]->connected = false;
      handler_.on_want_disconnected(*wants_[i]);
    }
    resends_.erase(resends_.begin() + static_cast<ptrdiff_t>(i));
    wants_.erase(wants_.begin() + static_cast<ptrdiff_t>(i));
    return true;
  }
  return false;
}

bool Services::remove_offer(const std::string& alias) {
  close_offer(alias);
  const auto it = std::find_if(offers_.begin(), offers_.end(),
                               [&](const auto& o) { return o->alias == alias; });
  if (it == offers_.end()) return false;
  offers_.erase(it);
  return true;
}

void Services::close_offer(const std::string& alias) {
  Offer* o = offer(alias);
  if (o == nullptr || !o->connected) return;
  o->connected = false;
  Message m;
  m.header = {link_.next_id(), o->service_id, MsgType::kDisconnectService};
  m.system_name = link_.options().peer_name;
  m.service_name = o->alias;
  m.protocol_id = o->protocol_id;
  link_.send(m);
  handler_.on_offer_closed(*o);
}

Want* Services::want(const std::string& local_alias) {
  for (auto& w : wants_) {
    if (w->local_alias == local_alias) return w.get();
  }
  return nullptr;
}

Offer* Services::offer(const std::string& alias) {
  for (auto& o : offers_) {
    if (o->alias == alias) return o.get();
  }
  return nullptr;
}

Message Services::connect_message(const Want& w, MsgType type, uint32_t id) const {
  Message m;
  m.header = {id, w.service_id, type};
  // Our own name for the peer: Legato echoes it back, and checks it.
  m.system_name = link_.options().peer_name;
  m.service_name = w.remote_service;
  m.protocol_id = w.protocol_id;
  return m;
}

void Services::request(Want& w) {
  if (w.connected || link_.state() != LinkState::kUp) return;
  for (size_t i = 0; i < wants_.size(); ++i) {
    if (wants_[i].get() != &w) continue;
    Resend& r = *resends_[i];
    if (r.request_id == 0) r.request_id = link_.next_id();
    link_.send(connect_message(w, MsgType::kConnectServiceRequest, r.request_id));
    loop_.arm_after(r, resend_);
    return;
  }
}

void Services::on_link_up() {
  handler_.on_link_up();
  for (size_t i = 0; i < wants_.size(); ++i) {
    resends_[i]->request_id = 0;
    request(*wants_[i]);
  }
}

void Services::on_link_down(const std::string& why) {
  for (size_t i = 0; i < wants_.size(); ++i) {
    loop_.disarm(*resends_[i]);
    if (wants_[i]->connected) {
      wants_[i]->connected = false;
      handler_.on_want_disconnected(*wants_[i]);
    }
  }
  for (auto& o : offers_) {
    if (o->connected) {
      o->connected = false;
      handler_.on_offer_closed(*o);
    }
  }
  handler_.on_link_down(why);
}

bool Services::on_message(Message& m, std::string* why) {
  switch (m.header.type) {
    case MsgType::kConnectServiceRequest: {
      Offer* o = offer(m.service_name);
      int32_t code = kLeOk;
      if (o == nullptr) {
        code = kLeUnavailable;
      } else if (o->connected) {
        code = kLeDuplicate;
      } else if (o->protocol_id != m.protocol_id) {
        code = kLeFormatError;
      } else {
        code = handler_.open_offer(*o);
        if (code == kLeOk) {
          o->connected = true;
          o->service_id = m.header.service_id;
        }
      }
      // The same 333 bytes back, type 2 and the code; names and ids echoed.
      m.header.type = MsgType::kConnectServiceResponse;
      m.service_code = code;
      link_.send(m);
      return true;
    }
    case MsgType::kConnectServiceResponse: {
      for (size_t i = 0; i < wants_.size(); ++i) {
        Want& w = *wants_[i];
        if (w.service_id != m.header.service_id || w.remote_service != m.service_name ||
            w.protocol_id != m.protocol_id) {
          continue;
        }
        if (m.service_code != kLeOk) {
          w.last_code = m.service_code;  // the resend timer keeps asking, as Legato's
        } else if (!w.connected) {
          w.connected = true;
          w.last_code = kLeOk;
          loop_.disarm(*resends_[i]);
          resends_[i]->request_id = 0;
          handler_.on_want_connected(w);
        }
        return true;
      }
      // Legato resets the whole link here when any binding is unmatched (reference 1.4, a
      // known flaw); an answer to nothing we asked is dropped instead.
      return true;
    }
    case MsgType::kDisconnectService: {
      for (auto& w : wants_) {
        if (w->service_id != m.header.service_id || !w->connected) continue;
        w->connected = false;
        handler_.on_want_disconnected(*w);
        request(*w);  // at once, then every `resend`
      }
      return true;
    }
    case MsgType::kClientRequest:
    case MsgType::kServerResponse:
    case MsgType::kServerAsyncEvent:
    case MsgType::kFileStreamMessage: {
      DataMessage d{m.header, m.msg_id, m.body, std::nullopt, nullptr, m.payload_pieces};
      return on_data(d, why);
    }
    case MsgType::kKeepAliveRequest:
    case MsgType::kKeepAliveResponse:
      return true;  // the Link answers these itself
  }
  return true;
}

bool Services::on_wrapped(const WrappedMessage& w, std::string* why) {
  DataMessage d{w.header, w.msg_id, w.body, w.payload, w.owner, {}};
  return on_data(d, why);
}

// Requests go to the offers, responses and events to the wants (Legato's two tables); a file
// stream message may be for either.
bool Services::on_data(const DataMessage& m, std::string* why) {
  if (m.header.type == MsgType::kClientRequest) {
    for (auto& o : offers_) {
      if (o->connected && o->service_id == m.header.service_id) {
        return handler_.on_data(m, nullptr, o.get(), why);
      }
    }
    return handler_.on_data(m, nullptr, nullptr, why);
  }
  for (auto& w : wants_) {
    if (w->connected && w->service_id == m.header.service_id) {
      return handler_.on_data(m, w.get(), nullptr, why);
    }
  }
  if (m.header.type == MsgType::kFileStreamMessage) {
    for (auto& o : offers_) {
      if (o->connected && o->service_id == m.header.service_id) {
        return handler_.on_data(m, nullptr, o.get(), why);
      }
    }
  }
  return handler_.on_data(m, nullptr, nullptr, why);
}

}  // namespace ringrpc::legato
