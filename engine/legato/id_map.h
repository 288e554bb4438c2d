// A map from 32-bit ids to calls in flight, for the proxy's data path, where ids are our own
// sequential counters (link ids, our xids) and calls mostly end in about the order they began.
// So the first place for a key is slot `key & mask` of a power-of-two ring: no hashing, no
// probing, and the calls of one batch sit next to each other in memory. A key whose slot is
// taken (a call still in flight while the ids have come round the ring, or a key that is not
// sequential) goes to an overflow table, open addressing with linear probing; the ring doubles
// instead when it is half full, so the overflow stays small. Nothing is allocated per call once
// the ring has grown to the load (std::unordered_map allocates a node per call).
//
// Threading: none; one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <type_traits>
#include <utility>
#include <vector>

namespace ringrpc::legato {

// Open addressing with linear probing and backward-shift deletion (no tombstones), keys spread
// by a multiplicative hash: the overflow of IdMap, and fine for any keys.
template <class V>
class ProbedIdMap {
 public:
  ProbedIdMap() = default;

  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  V* find(uint32_t key) noexcept {
    if (size_ == 0) return nullptr;
    for (size_t i = home(key);; i = (i + 1) & mask()) {
      Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.key == key) return &s.value;
    }
  }

  // Inserts or replaces.
  void put(uint32_t key, V value) {
    if ((size_ + 1) * 4 > slots_.size() * 3) grow();
    for (size_t i = home(key);; i = (i + 1) & mask()) {
      Slot& s = slots_[i];
      if (!s.used) {
        s.used = true;
        s.key = key;
        s.value = std::move(value);
        ++size_;
        return;
      }
      if (s.key == key) {
        s.value = std::move(value);
        return;
      }
    }
  }

  bool erase(uint32_t key) noexcept {
    if (size_ == 0) return false;
    size_t i = home(key);
    for (;; i = (i + 1) & mask()) {
      if (!slots_[i].used) return false;
      if (slots_[i].key == key) break;
    }
    size_t hole = i;
    for (size_t j = (hole + 1) & mask(); slots_[j].used; j = (j + 1) & mask()) {
      const size_t h = home(slots_[j].key);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const bool stays = hole < j ? (h > hole && h <= j) : (h > hole || h <= j);
      if (stays) continue;
      slots_[hole].key = slots_[j].key;
      slots_[hole].value = std::move(slots_[j].value);
      hole = j;
    }
    slots_[hole].used = false;
    slots_[hole].value = V{};
    --size_;
    return true;
  }

  template <class F>
  void for_each(F&& fn) {
    for (Slot& s : slots_) {
      if (s.used) fn(s.key, s.value);
    }
  }
  void clear() {
    for (Slot& s : slots_) {
      s.used = false;
      s.value = V{};
    }
    size_ = 0;
  }

 private:
  struct Slot {
    uint32_t key = 0;
    bool used = false;
    V value{};
  };
  size_t mask() const noexcept { return slots_.size() - 1; }
  size_t home(uint32_t key) const noexcept {
    return static_cast<size_t>((key * 0x9E3779B1u) >> 8) & mask();
  }
  void grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_ = std::vector<Slot>(old.empty() ? 16 : old.size() * 2);
    size_ = 0;
    for (Slot& s : old) {
      if (s.used) put(s.key, std::move(s.value));
    }
  }
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

template <class V>
class IdMap {
 public:
  IdMap() { ring_.resize(kInitialRing); }

  size_t size() const noexcept { return in_ring_ + overflow_.size(); }
  bool empty() const noexcept { return size() == 0; }

  V* find(uint32_t key) noexcept {
    Slot& s = ring_[key & mask()];
    if (s.used && s.key == key) return &s.value;
    return overflow_.empty() ? nullptr : overflow_.find(key);
  }
  bool contains(uint32_t key) noexcept { return find(key) != nullptr; }

  // Inserts or replaces.
  void put(uint32_t key, V value) {
    if (V* v = find(key)) {
      *v = std::move(value);
      return;
    }
    insert_new(key, std::move(value));
  }
  // Inserts a key known to be absent (find() said so): the data path's insert, one look fewer.
  void insert_new(uint32_t key, V value) {
    if ((in_ring_ + 1) * 2 > ring_.size()) grow();
    Slot& s = ring_[key & mask()];
    if (!s.used) {
      s.used = true;
      s.key = key;
      s.value = std::move(value);
      ++in_ring_;
      return;
    }
    overflow_.put(key, std::move(value));
  }

  // Removes `key`; false when absent.
  bool erase(uint32_t key) noexcept {
    Slot& s = ring_[key & mask()];
    if (s.used && s.key == key) {
      s.used = false;
      // A value that owns nothing can stay behind in a free slot; anything else is let go now.
      if constexpr (!std::is_trivially_destructible_v<V>) s.value = V{};
      --in_ring_;
      return true;
    }
    return !overflow_.empty() && overflow_.erase(key);
  }

  // Calls fn(key, value&) for every entry; fn must not change the map.
  template <class F>
  void for_each(F&& fn) {
    for (Slot& s : ring_) {
      if (s.used) fn(s.key, s.value);
    }
    overflow_.for_each(fn);
  }
  // Removes every entry for which pred(key, value&) is true (after calling it).
  template <class P>
  size_t erase_if(P&& pred) {
    std::vector<uint32_t> doomed;
    for_each([&](uint32_t k, V& v) {
      if (pred(k, v)) doomed.push_back(k);
    });
    for (uint32_t k : doomed) erase(k);
    return doomed.size();
  }
  void clear() {
    for (Slot& s : ring_) {
      s.used = false;
      s.value = V{};
    }
    in_ring_ = 0;
    overflow_.clear();
  }

 private:
  static constexpr size_t kInitialRing = 64;
  struct Slot {
    uint32_t key = 0;
    bool used = false;
    V value{};
  };
  size_t mask() const noexcept { return ring_.size() - 1; }
  // Doubling gives every ring key a slot of its own again (two keys that shared `key & mask`
  // differ in the new bit, or are equal), and the overflow's keys may move in.
  void grow() {
    std::vector<Slot> old = std::move(ring_);
    ring_ = std::vector<Slot>(old.size() * 2);
    in_ring_ = 0;
    ProbedIdMap<V> spill = std::move(overflow_);
    overflow_ = ProbedIdMap<V>();
    for (Slot& s : old) {
      if (s.used) insert_new(s.key, std::move(s.value));
    }
    spill.for_each([&](uint32_t k, V& v) { insert_new(k, std::move(v)); });
  }
  std::vector<Slot> ring_;
  size_t in_ring_ = 0;
  ProbedIdMap<V> overflow_;
};

}  // namespace ringrpc::legato
