// Registration of a server's programs with the host's registry (rpcbind or a portmapper on
// 127.0.0.1:111), the way svc_register/pmap_set do it: portmap v2 SET and UNSET over UDP.
#include <condition_variable>
#include <mutex>

#include "engine/client.h"
#include "engine/registration.h"

namespace ringrpc {
namespace {

constexpr uint32_t kPmapProg = 100000;
constexpr uint32_t kPmapVers = 2;
bool encode_mapping(const void* ctx, xdr::XdrWriter& w) {
  const auto* m = static_cast<const PmapMapping*>(ctx);
  return w.put_u32(m->prog) && w.put_u32(m->vers) && w.put_u32(m->prot) && w.put_u32(m->port);
}

struct BoolWait {
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  RpcError error;
  uint32_t value = 0;
  static void on_reply(void* ctx, const RpcError& e, xdr::XdrReader* r) {
    auto* w = static_cast<BoolWait*>(ctx);
    std::lock_guard<std::mutex> lock(w->mu);
    w->error = e;
    if (e.ok() && (!r->get_u32(w->value) || !r->finish())) {
      w->error = RpcError::of(Errc::kCannotDecode);
    }
    w->done = true;
    w->cv.notify_all();
  }
};

}  // namespace

// One portmap call returning bool; the error says why when there is no answer.
Result<bool> pmap_call(uint32_t proc, const PmapMapping& m) {
  ChannelOptions o;
  o.transport = TransportKind::kUdp;
  o.address = transport::SockAddr::loopback4(111);
  o.program = kPmapProg;
  o.version = kPmapVers;
  o.timeout = std::chrono::seconds(3);
  o.udp_retry = std::chrono::milliseconds(300);
  std::shared_ptr<Channel> ch = Channel::create(ClientRuntime::shared().loop(), o);
  BoolWait w;
  ch->call_raw(proc, encode_mapping, &m, BoolWait::on_reply, &w);
  std::unique_lock<std::mutex> lock(w.mu);
  w.cv.wait(lock, [&w] { return w.done; });
  if (!w.error.ok()) return Result<bool>(w.error);
  return Result<bool>(w.value != 0);
}

}  // namespace ringrpc
