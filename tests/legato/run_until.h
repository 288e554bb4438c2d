// Shared by the Legato tests that run two proxies on one event loop: iterate the loop until a
// condition holds or a time limit passes (bounded, so a broken peer fails the test, never hangs).
#pragma once

#include <chrono>
#include <functional>

#include "transport/event_loop.h"

namespace ringrpc::legato::testing {

inline bool run_until(transport::EventLoop& loop, const std::function<bool()>& done,
                      std::chrono::milliseconds limit = std::chrono::milliseconds(3000)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (done()) return true;
    loop.run_once(std::chrono::milliseconds(10));
  }
  return done();
}

}  // namespace ringrpc::legato::testing
