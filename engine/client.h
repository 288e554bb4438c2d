// The RPC client: a Channel is one connection (TCP, Unix) or socket (UDP) to one program version
// of one server, with many calls in flight matched by xid, a deadline per call, retransmission
// with the same xid over UDP, reconnection over streams, and retries only for calls the caller
// marks idempotent. Results arrive through a callback, a std::future, co_await, or a blocking
// call.
//
// Binding works like libtirpc's clnt_create: connect(host, program, version, "tcp" | "udp" |
// "unix") asks the host's registry on port 111 where the program is (rpcbind GETADDR version 4,
// then 3, then portmap GETPORT, over the transport the channel will use). A "tcp" binding to a
// server on this host goes over shared memory instead when the server offers it (and
// ChannelOptions::shared_memory allows it). ringrpc-gen's V_Client classes wrap a Channel with
// one method per procedure.
//
// Threading: a Channel's I/O and its callbacks run on the thread of the EventLoop it was created
// on (a ClientRuntime's thread, or a loop the caller runs). Every method may be called from any
// thread. Calls made on the loop thread are encoded straight into pooled buffers and cost no
// allocation in the steady state with call_raw(); calls from other threads are encoded where they
// are made and handed to the loop. call_sync() on the loop's own thread runs the loop until the
// reply comes: fine from a program's main line, never from inside a callback.
#pragma once

#include <chrono>
#include <coroutine>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "codec/rpc_msg.h"
#include "codec/xdr_reader.h"
#include "codec/xdr_writer.h"
#include "engine/rpc_error.h"
#include "engine/service.h"
#include "transport/event_loop.h"
#include "transport/socket.h"

namespace ringrpc {

// A credential, encoded once when the channel is made.
struct Credentials {
  uint32_t flavor = 0;  // AUTH_NONE
  std::vector<uint8_t> body;

  static Credentials none() { return {}; }
  // AUTH_SYS with these ids (like authunix_create); machine name at most 255 bytes, at most 16
  // supplementary groups (the rest are left out).
  static Credentials sys(std::string_view machine, uint32_t uid, uint32_t gid,
                         const std::vector<uint32_t>& gids = {}, uint32_t stamp = 0);
  // AUTH_SYS for the calling process (like authunix_create_default).
  static Credentials sys_default();
};

struct ChannelOptions {
  TransportKind transport = TransportKind::kTcp;
  transport::SockAddr address;
  uint32_t program = 0;
  uint32_t version = 0;
  // Default deadline of a call: rpcgen's stubs use 25 s.
  std::chrono::milliseconds timeout{25000};
  // UDP: first retransmission after this, then doubling, at most 8 times this.
  std::chrono::milliseconds udp_retry{1000};
  uint32_t max_inflight = 65536;
  size_t max_record = 64u << 20;  // replies longer than this break the connection
  Credentials credentials;
  // connect() over "tcp" to a server on this host that registered a shared-memory endpoint
  // uses that instead. false: always TCP.
  bool shared_memory = true;
  // Shared memory: a server that offers rings larger than this is refused (it would make this
  // process map that much).
  size_t max_shm_ring = 16u << 20;
};

struct CallOptions {
  std::chrono::milliseconds timeout{0};  // 0: the channel's
  // The procedure may run twice without harm: after a broken connection, the call is sent again
  // on a new one instead of failing with kReset.
  bool idempotent = false;
};

// A thread running an EventLoop for channels, for programs that have no loop of their own.
class ClientRuntime {
 public:
  explicit ClientRuntime(const transport::LoopOptions& options = {});
  ~ClientRuntime();
  ClientRuntime(const ClientRuntime&) = delete;
  ClientRuntime& operator=(const ClientRuntime&) = delete;
  transport::EventLoop& loop() noexcept { return *loop_; }
  // The process's shared runtime, started on first use.
  static ClientRuntime& shared();

 private:
  std::unique_ptr<transport::EventLoop> loop_;
  std::thread thread_;
};

namespace internal {
class ChannelCore;
}

class Channel {
 public:
  using EncodeFn = bool (*)(const void* ctx, xdr::XdrWriter& w);
  // `results` is positioned at the procedure's results when error.ok(), else nullptr.
  using ReplyFn = void (*)(void* ctx, const RpcError& error, xdr::XdrReader* results);

  // A channel whose I/O runs on `loop`. Connects on the first call.
  static std::shared_ptr<Channel> create(transport::EventLoop& loop, ChannelOptions options);
  ~Channel();  // closes; calls still in flight fail with kCancelled
  Channel(const Channel&) = delete;
  Channel& operator=(const Channel&) = delete;

  // The primitive every other call form is built on. `enc` writes the arguments (it runs before
  // call_raw returns); `fn` runs on the loop thread exactly once.
  void call_raw(uint32_t proc, EncodeFn enc, const void* enc_ctx, ReplyFn fn, void* fn_ctx,
                const CallOptions& options = {});

  // Typed calls; P is a procedure of ringrpc-gen's V_Proto (V_Proto::NAME_t).
  template <typename P>
  using ResultOf = Result<typename P::result::type>;

  template <typename P>
  void call(const typename P::arg::type& arg, std::function<void(ResultOf<P>)> done,
            const CallOptions& options = {});
  template <typename P>
  std::future<ResultOf<P>> call_future(const typename P::arg::type& arg,
                                       const CallOptions& options = {});
  template <typename P>
  ResultOf<P> call_sync(const typename P::arg::type& arg, const CallOptions& options = {});
  template <typename P>
  auto call_co(const typename P::arg::type& arg, const CallOptions& options = {});

  void close();
  transport::EventLoop& loop() const noexcept;
  const ChannelOptions& options() const noexcept;
  // Calls sent and replies matched, for tests and benchmarks (loop thread).
  uint64_t calls_sent() const noexcept;
  uint32_t in_flight() const noexcept;

  // Runs `until` on the loop's thread repeatedly... used by call_sync on the loop thread.
  void run_loop_until(const std::function<bool()>& done);

 private:
  explicit Channel(std::shared_ptr<internal::ChannelCore> core) : core_(std::move(core)) {}
  template <typename P>
  static bool encode_arg(const void* ctx, xdr::XdrWriter& w) {
    return P::arg::encode(w, *static_cast<const typename P::arg::type*>(ctx));
  }
  template <typename P>
  static ResultOf<P> decode_result(const RpcError& e, xdr::XdrReader* r) {
    if (!e.ok()) return ResultOf<P>(e);
    typename P::result::type v{};
    if (!P::result::decode(*r, v) || !r->finish())
      return ResultOf<P>(RpcError::of(Errc::kCannotDecode));
    return ResultOf<P>(std::move(v));
  }

  std::shared_ptr<internal::ChannelCore> core_;
};

// Binds like clnt_create(host, prog, vers, nettype): "tcp", "udp", "tcp6", "udp6" ask the
// registry on `host` (port 111) for the address; "unix" and "shm" take `host` as the socket
// path of a Unix or shared-memory endpoint. "tcp" and "tcp6" to this host (a loopback address or
// one of its interfaces') look for a shared-memory endpoint first, in the registry's DUMP,
// unless base.shared_memory is false; any failure there falls back to TCP. `base` supplies
// timeouts and credentials; the runtime defaults to the shared one.
Result<std::shared_ptr<Channel>> connect(const std::string& host, uint32_t program,
                                         uint32_t version, std::string_view nettype,
                                         ChannelOptions base = {},
                                         transport::EventLoop* loop = nullptr);

// Asks the portmapper on `host` (port 111, or `registry`) for a program's port; 0 means not
// registered. `protocol` is 6 (TCP) or 17 (UDP).
Result<uint16_t> pmap_getport(const transport::SockAddr& registry, uint32_t program,
                              uint32_t version, uint32_t protocol,
                              transport::EventLoop* loop = nullptr,
                              std::chrono::milliseconds timeout = std::chrono::seconds(5));

// --- templates --------------------------------------------------------------------------------

template <typename P>
void Channel::call(const typename P::arg::type& arg, std::function<void(ResultOf<P>)> done,
                   const CallOptions& options) {
  auto* holder = new std::function<void(ResultOf<P>)>(std::move(done));
  call_raw(
      P::number, &Channel::encode_arg<P>, &arg,
      [](void* ctx, const RpcError& e, xdr::XdrReader* r) {
        std::unique_ptr<std::function<void(ResultOf<P>)>> h(
            static_cast<std::function<void(ResultOf<P>)>*>(ctx));
        (*h)(decode_result<P>(e, r));
      },
      holder, options);
}

template <typename P>
std::future<Channel::ResultOf<P>> Channel::call_future(const typename P::arg::type& arg,
                                                       const CallOptions& options) {
  auto* promise = new std::promise<ResultOf<P>>();
  std::future<ResultOf<P>> f = promise->get_future();
  call_raw(
      P::number, &Channel::encode_arg<P>, &arg,
      [](void* ctx, const RpcError& e, xdr::XdrReader* r) {
        std::unique_ptr<std::promise<ResultOf<P>>> p(static_cast<std::promise<ResultOf<P>>*>(ctx));
        p->set_value(decode_result<P>(e, r));
      },
      promise, options);
  return f;
}

template <typename P>
Channel::ResultOf<P> Channel::call_sync(const typename P::arg::type& arg,
                                        const CallOptions& options) {
  if (!loop().in_loop_thread()) return call_future<P>(arg, options).get();
  struct State {
    bool done = false;
    ResultOf<P> result;
  } st;
  call_raw(
      P::number, &Channel::encode_arg<P>, &arg,
      [](void* ctx, const RpcError& e, xdr::XdrReader* r) {
        auto* s = static_cast<State*>(ctx);
        s->result = decode_result<P>(e, r);
        s->done = true;
      },
      &st, options);
  run_loop_until([&st] { return st.done; });
  return std::move(st.result);
}

// co_await channel->call_co<P>(arg): resumes on the loop thread with the Result.
template <typename P>
auto Channel::call_co(const typename P::arg::type& arg, const CallOptions& options) {
  struct Awaiter {
    Channel* ch;
    const typename P::arg::type* arg;
    CallOptions options;
    ResultOf<P> result;
    std::coroutine_handle<> handle;
    bool await_ready() const noexcept { return false; }
    void await_suspend(std::coroutine_handle<> h) {
      handle = h;
      ch->call_raw(
          P::number, &Channel::encode_arg<P>, arg,
          [](void* ctx, const RpcError& e, xdr::XdrReader* r) {
            auto* self = static_cast<Awaiter*>(ctx);
            self->result = decode_result<P>(e, r);
            self->handle.resume();
          },
          this, options);
    }
    ResultOf<P> await_resume() { return std::move(result); }
  };
  return Awaiter{this, &arg, options, {}, {}};
}

}  // namespace ringrpc
