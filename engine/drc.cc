#include "engine/drc.h"

#include <cstring>

namespace ringrpc {

size_t DuplicateRequestCache::Hash::operator()(const Key& k) const noexcept {
  // FNV-1a over the xid and the address bytes that identify the client.
  uint64_t h = 1469598103934665603ull;
  auto mix = [&h](const void* p, size_t n) {
    const auto* b = static_cast<const uint8_t*>(p);
    for (size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 1099511628211ull;
  };
  mix(&k.xid, sizeof k.xid);
  const uint16_t port = k.peer.port();
  mix(&port, sizeof port);
  const std::string host = k.peer.host_string();
  mix(host.data(), host.size());
  return static_cast<size_t>(h);
}

std::pair<DuplicateRequestCache::Entry*, bool> DuplicateRequestCache::lookup_or_insert(
    uint32_t xid, const transport::SockAddr& peer) {
  Key key{xid, peer};
  auto it = map_.find(key);
  if (it != map_.end()) return {&it->second.entry, true};
  if (map_.size() >= capacity_ && !order_.empty()) {
    map_.erase(order_.front());
    order_.pop_front();
  }
  order_.push_back(key);
  Slot& s = map_[key];
  s.order = std::prev(order_.end());
  return {&s.entry, false};
}

DuplicateRequestCache::Entry* DuplicateRequestCache::find(uint32_t xid,
                                                          const transport::SockAddr& peer) {
  auto it = map_.find(Key{xid, peer});
  return it == map_.end() ? nullptr : &it->second.entry;
}

}  // namespace ringrpc
