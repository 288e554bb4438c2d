// Portmap v2 calls over UDP: SET and UNSET for a server registering itself (as svc_register and
// pmap_set do), GETPORT for a client binding (as clnt_create does).
#include <condition_variable>
#include <mutex>

#include "engine/client.h"
#include "engine/registration.h"

namespace ringrpc {
namespace {

constexpr uint32_t kPmapProg = 100000;
constexpr uint32_t kPmapVers = 2;
constexpr uint32_t kPmapGetport = 3;

bool encode_mapping(const void* ctx, xdr::XdrWriter& w) {
  const auto* m = static_cast<const PmapMapping*>(ctx);
  return w.put_u32(m->prog) && w.put_u32(m->vers) && w.put_u32(m->prot) && w.put_u32(m->port);
}

// Waits for one call whose result is a single unsigned int (a bool or a port), from any thread.
struct U32Wait {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  RpcError error;
  uint32_t value = 0;

  static void on_reply(void* ctx, const RpcError& e, xdr::XdrReader* r) {
    auto* w = static_cast<U32Wait*>(ctx);
    std::lock_guard<std::mutex> lock(w->mu);
    w->error = e;
    if (e.ok() && (!r->get_u32(w->value) || !r->finish())) {
      w->error = RpcError::of(Errc::kCannotDecode);
    }
    w->done = true;
    w->cv.notify_all();
  }
};

// One portmap v2 call over UDP to `registry`.
Result<uint32_t> pmap_u32_call(const transport::SockAddr& registry, uint32_t proc,
                               const PmapMapping& m, transport::EventLoop& loop,
                               std::chrono::milliseconds timeout) {
  ChannelOptions o;
  o.transport = TransportKind::kUdp;
  o.address = registry;
  o.program = kPmapProg;
  o.version = kPmapVers;
  o.timeout = timeout;
  o.udp_retry = std::chrono::milliseconds(300);
  std::shared_ptr<Channel> ch = Channel::create(loop, o);
  U32Wait w;
  ch->call_raw(proc, encode_mapping, &m, U32Wait::on_reply, &w);
  if (loop.in_loop_thread()) {
    ch->run_loop_until([&w] {
      std::lock_guard<std::mutex> lock(w.mu);
      return w.done;
    });
  } else {
    std::unique_lock<std::mutex> lock(w.mu);
    w.cv.wait(lock, [&w] { return w.done; });
  }
  if (!w.error.ok()) return Result<uint32_t>(w.error);
  return Result<uint32_t>(w.value);
}

}  // namespace

Result<bool> pmap_call(uint32_t proc, const PmapMapping& m) {
  Result<uint32_t> r = pmap_u32_call(transport::SockAddr::loopback4(111), proc, m,
                                     ClientRuntime::shared().loop(), std::chrono::seconds(3));
  if (!r.ok()) return Result<bool>(r.error());
  return Result<bool>(r.value() != 0);
}

Result<uint16_t> pmap_getport(const transport::SockAddr& registry, uint32_t program,
                              uint32_t version, uint32_t protocol, transport::EventLoop* loop,
                              std::chrono::milliseconds timeout) {
  if (loop == nullptr) loop = &ClientRuntime::shared().loop();
  Result<uint32_t> r =
      pmap_u32_call(registry, kPmapGetport, {program, version, protocol, 0}, *loop, timeout);
  if (!r.ok()) return Result<uint16_t>(r.error());
  if (r.value() > 65535) return Result<uint16_t>(RpcError::of(Errc::kCannotDecode));
  return Result<uint16_t>(static_cast<uint16_t>(r.value()));
}

}  // namespace ringrpc
