// ringrpc-raw-echo: the machine's limit for the engine benchmarks. A server that does no RPC
// work at all: every byte it receives goes straight back, through the same event loop (io_uring
// or epoll) and socket options as the engine, with no record marking, no decoding, no dispatch.
// ringrpc-load --raw drives it with real RPC call records; each comes back as its own "reply".
//
// usage: ringrpc-raw-echo [--port N] [--shards N] [--backend B]; prints `listening tcp=PORT`.
// Threading: one loop per shard thread, each with its own SO_REUSEPORT listening socket.
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "codec/xdr_writer.h"
#include "engine/server.h"
#include "transport/event_loop.h"

namespace {

using ringrpc::Buffer;
using ringrpc::transport::EventLoop;
using ringrpc::transport::SockAddr;
using ringrpc::transport::Stream;

class Echo final : public ringrpc::transport::StreamHandler,
                   public ringrpc::transport::AcceptHandler {
 public:
  explicit Echo(EventLoop& loop) : loop_(loop) {}
  void on_accept(int fd, const SockAddr& peer) override { loop_.add_stream(fd, *this, peer); }
  void on_data(Stream& s, std::span<const uint8_t> data, const Buffer& owner) override {
    (void)owner;
    // Copy into a pooled send buffer (the engine copies too: it encodes a reply).
    ringrpc::xdr::OutMessage m;
    ringrpc::xdr::EncodeOptions raw;
    raw.record_mark = false;
    ringrpc::xdr::XdrWriter w(loop_.send_pool(), m, raw);
    w.put_bytes(data.data(), data.size());
    w.finish();
    s.send(std::move(m));
  }
  void on_closed(Stream&, int) override {}

 private:
  EventLoop& loop_;
};

}  // namespace

int main(int argc, char** argv) {
  unsigned long port = 0;
  unsigned shards = std::max(1u, std::thread::hardware_concurrency());
  ringrpc::transport::Backend backend = ringrpc::transport::Backend::kAuto;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--help") {
      std::printf("usage: ringrpc-raw-echo [--port N] [--shards N] [--backend B]\n");
      return 0;
    } else if (a == "--port" && i + 1 < argc) {
      port = std::strtoul(argv[++i], nullptr, 10);
    } else if (a == "--shards" && i + 1 < argc) {
      shards = static_cast<unsigned>(std::strtoul(argv[++i], nullptr, 10));
    } else if (a == "--backend" && i + 1 < argc) {
      if (!ringrpc::transport::parse_backend(argv[++i], backend)) return 2;
    } else {
      std::fprintf(stderr, "ringrpc-raw-echo: unknown argument %s\n", a.c_str());
      return 2;
    }
  }
  ringrpc::block_termination_signals();
  SockAddr addr = SockAddr::loopback4(static_cast<uint16_t>(port));
  std::vector<int> fds;
  ringrpc::transport::ListenOptions lo;
  lo.reuse_port = shards > 1;
  for (unsigned i = 0; i < shards; ++i) {
    ringrpc::transport::IoError e;
    const int fd = ringrpc::transport::listen_stream(addr, lo, e);
    if (fd < 0) {
      std::fprintf(stderr, "ringrpc-raw-echo: %s\n", e.to_string().c_str());
      return 1;
    }
    fds.push_back(fd);
  }
  std::vector<EventLoop*> loops(shards, nullptr);
  std::vector<std::thread> threads;
  std::atomic<unsigned> ready{0};
  for (unsigned i = 0; i < shards; ++i) {
    threads.emplace_back([&, i] {
      ringrpc::transport::LoopOptions o;
      o.backend = backend;
      std::unique_ptr<EventLoop> loop = EventLoop::create(o);
      Echo echo(*loop);
      loop->add_listener(fds[i], echo);
      loops[i] = loop.get();
      ++ready;
      loop->run();
    });
  }
  while (ready.load() < shards) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  std::printf("listening tcp=%u\n", addr.port());
  std::fflush(stdout);
  ringrpc::wait_for_termination_signal();
  for (EventLoop* l : loops) l->stop();
  for (auto& t : threads) t.join();
  return 0;
}
