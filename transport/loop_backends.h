// Factories of the two EventLoop backends (transport/event_loop.h). Private to transport/.
//
// Threading: call from the thread that will run the loop.
#pragma once

#include <memory>
#include <string>

#include "transport/event_loop.h"

namespace ringrpc::transport {

// nullptr, with the reason in `why`, when io_uring or a feature the loop needs (provided-buffer
// rings, multishot recv) is missing or forbidden.
std::unique_ptr<EventLoop> make_uring_loop(const LoopOptions& options, std::string& why);
std::unique_ptr<EventLoop> make_epoll_loop(const LoopOptions& options, std::string& why);

}  // namespace ringrpc::transport
