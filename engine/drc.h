// The UDP duplicate-request cache: replies kept per shard, keyed on (xid, client address), so a
// client that retransmits a call whose reply was lost gets the same reply again instead of the
// procedure running twice (at-most-once semantics for UDP, RFC 5531 section 8, as libtirpc's
// svc_dg_enablecache and nfsd's DRC do). A retransmission of a call still being served is
// dropped. Least recently inserted entries go first when the cache is full.
//
// Threading: one cache per shard, used on the shard thread only.
#pragma once

#include <cstdint>
#include <list>
#include <unordered_map>
#include <vector>

#include "transport/socket.h"

namespace ringrpc {

class DuplicateRequestCache {
 public:
  explicit DuplicateRequestCache(size_t capacity) : capacity_(capacity) {}

  struct Entry {
    bool done = false;
    std::vector<uint8_t> reply;  // the datagram sent, when done
  };

  // The entry of a call seen before, or nullptr; a new call gets an in-progress entry (and may
  // evict the oldest). Returns {entry, seen_before}.
  std::pair<Entry*, bool> lookup_or_insert(uint32_t xid, const transport::SockAddr& peer);
  Entry* find(uint32_t xid, const transport::SockAddr& peer);
  size_t size() const noexcept { return map_.size(); }

 private:
  struct Key {
    uint32_t xid;
    transport::SockAddr peer;
    friend bool operator==(const Key& a, const Key& b) noexcept {
      return a.xid == b.xid && a.peer == b.peer;
    }
  };
  struct Hash {
    size_t operator()(const Key& k) const noexcept;
  };
  struct Slot {
    Entry entry;
    std::list<Key>::iterator order;
  };

  size_t capacity_;
  std::list<Key> order_;  // oldest first
  std::unordered_map<Key, Slot, Hash> map_;
};

}  // namespace ringrpc
