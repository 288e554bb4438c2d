#include "codec/arena.h"

#include <algorithm>

#include "codec/memory.h"

namespace ringrpc {

namespace {
constexpr size_t kHeader = 64;  // keeps block payloads 64-byte aligned
}

Arena::~Arena() {
  for (Block* b = head_; b != nullptr;) {
    Block* next = b->next;
    internal::cold_free(b);
    b = next;
  }
}

Arena::Block* Arena::new_block(size_t usable) noexcept {
  if (usable > options_.max_bytes || reserved_ > options_.max_bytes - usable) return nullptr;
  void* mem = internal::cold_alloc(kHeader + usable, 64);
  if (mem == nullptr) return nullptr;
  auto* b = static_cast<Block*>(mem);
  b->next = head_;
  b->size = usable;
  head_ = b;
  reserved_ += usable;
  cur_ = reinterpret_cast<char*>(b) + kHeader;
  end_ = cur_ + usable;
  return b;
}

void* Arena::allocate_slow(size_t bytes, size_t align) noexcept {
  if (bytes > options_.max_bytes) return nullptr;
  // Double with each block so a large message needs O(log n) blocks.
  size_t want = std::max({options_.first_block, bytes + align, head_ ? head_->size * 2 : 0});
  want = std::min(
      want, std::max(options_.max_bytes - std::min(reserved_, options_.max_bytes), bytes + align));
  if (new_block(want) == nullptr) return nullptr;
  uintptr_t p = (reinterpret_cast<uintptr_t>(cur_) + (align - 1)) & ~uintptr_t(align - 1);
  cur_ = reinterpret_cast<char*>(p) + bytes;
  return reinterpret_cast<void*>(p);
}

void Arena::reset() noexcept {
  if (head_ == nullptr) return;
  if (head_->next != nullptr) {
    // Several blocks were needed: replace them by one block that holds them all.
    size_t total = reserved_;
    for (Block* b = head_; b != nullptr;) {
      Block* next = b->next;
      internal::cold_free(b);
      b = next;
    }
    head_ = nullptr;
    reserved_ = 0;
    if (new_block(std::min(total, options_.max_bytes)) == nullptr) {
      cur_ = end_ = nullptr;
    }
    return;
  }
  cur_ = reinterpret_cast<char*>(head_) + kHeader;
  end_ = cur_ + head_->size;
}

}  // namespace ringrpc
