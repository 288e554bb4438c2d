// A map from 32-bit ids to calls in flight, for the proxy's data path: open addressing with
// linear probing in one power-of-two table, so that inserting and erasing a call allocates
// nothing once the table has grown to the load (std::unordered_map allocates a node per call).
// Ids are sequential counters, which spread well under a multiplicative hash.
//
// Threading: none; one owner.
#pragma once

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace ringrpc::legato {

template <class V>
class IdMap {
 public:
  IdMap() { slots_.resize(64); }

  size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }

  V* find(uint32_t key) noexcept {
    for (size_t i = home(key);; i = (i + 1) & mask()) {
      Slot& s = slots_[i];
      if (!s.used) return nullptr;
      if (s.key == key) return &s.value;
    }
  }
  bool contains(uint32_t key) noexcept { return find(key) != nullptr; }

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

  // Removes `key`; false when absent. Backward-shift deletion: no tombstones, so probes stay
  // short however many calls come and go.
  bool erase(uint32_t key) noexcept {
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

  // Calls fn(key, value&) for every entry; fn must not change the map.
  template <class F>
  void for_each(F&& fn) {
    for (Slot& s : slots_) {
      if (s.used) fn(s.key, s.value);
    }
  }
  // Removes every entry for which pred(key, value&) is true (after calling it).
  template <class P>
  size_t erase_if(P&& pred) {
    std::vector<uint32_t> doomed;
    for (Slot& s : slots_) {
      if (s.used && pred(s.key, s.value)) doomed.push_back(s.key);
    }
    for (uint32_t k : doomed) erase(k);
    return doomed.size();
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
    slots_ = std::vector<Slot>(old.size() * 2);
    size_ = 0;
    for (Slot& s : old) {
      if (s.used) put(s.key, std::move(s.value));
    }
  }
  std::vector<Slot> slots_;
  size_t size_ = 0;
};

}  // namespace ringrpc::legato
