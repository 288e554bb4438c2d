// Faults a client must survive: the server process killed (SIGKILL) in the middle of a stream of
// pipelined calls, then restarted on the same port (or shared-memory socket). Every call in
// flight ends with an error (never a hang), and the same channel works again once the server is
// back. The server is the real square-server binary, run as a child process and stopped by its
// pid.
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "engine/client.h"
#include "square.h"

extern char** environ;

namespace {

using namespace std::chrono_literals;

// A square-server child; its "listening tcp=P udp=Q" line is read from a pipe.
class Child {
 public:
  explicit Child(uint16_t port, const std::string& shm = "") {
    int fds[2];
    EXPECT_EQ(pipe(fds), 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    const std::string p = std::to_string(port);
    std::vector<const char*> argv = {
        RINGRPC_SQUARE_SERVER, "--no-register", "--shards", "2", "--port", p.c_str()};
    if (!shm.empty()) {
      argv.push_back("--shm");
      argv.push_back(shm.c_str());
    }
    argv.push_back(nullptr);
    EXPECT_EQ(posix_spawn(&pid_, RINGRPC_SQUARE_SERVER, &fa, nullptr,
                          const_cast<char* const*>(argv.data()), environ),
              0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    FILE* f = fdopen(fds[0], "r");
    char line[256] = {};
    if (f != nullptr && fgets(line, sizeof line, f) != nullptr) {
      unsigned tcp = 0, udp = 0;
      if (std::sscanf(line, "listening tcp=%u udp=%u", &tcp, &udp) == 2)
        port_ = static_cast<uint16_t>(tcp);
    }
    if (f != nullptr) fclose(f);
  }
  ~Child() { kill_now(); }
  void kill_now() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int st = 0;
      waitpid(pid_, &st, 0);
      pid_ = -1;
    }
  }
  uint16_t port() const { return port_; }

 private:
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

// Keeps ~200 calls in flight on `c` while `server` is killed, checks how they ended, then
// restarts the server with `restart` and calls again on the same channel.
void kill_mid_load(square::SQUARE_VERS_Client& c, std::unique_ptr<Child>& server,
                   const std::function<std::unique_ptr<Child>()>& restart) {
  ASSERT_EQ(c.SQUAREPROC({.arg1 = 3}).value().res1, 9);
  std::vector<std::future<ringrpc::Result<square::square_out>>> fs;
  const auto kill_at = std::chrono::steady_clock::now() + 200ms;
  bool killed = false;
  const auto t0 = std::chrono::steady_clock::now();
  while (fs.size() < 200000 && std::chrono::steady_clock::now() < kill_at + 300ms) {
    fs.push_back(c.SQUAREPROC_async({.arg1 = 2}));
    if (fs.size() % 200 == 0) fs[fs.size() - 200].wait();
    // At 200 ms, or half-way through the calls if they go faster than that: the kill must
    // land inside the loop, with calls before and after it.
    if (!killed && (std::chrono::steady_clock::now() >= kill_at || fs.size() >= 100000)) {
      server->kill_now();
      killed = true;
    }
  }
  size_t ok = 0, failed = 0;
  for (auto& f : fs) {
    ASSERT_EQ(f.wait_for(10s), std::future_status::ready) << "a call hung after the kill";
    auto r = f.get();
    if (r.ok()) {
      EXPECT_EQ(r.value().res1, 4);
      ++ok;
    } else {
      const ringrpc::Errc e = r.error().code;
      EXPECT_TRUE(e == ringrpc::Errc::kReset || e == ringrpc::Errc::kRefused ||
                  e == ringrpc::Errc::kCannotSend)
          << r.error().to_string();
      ++failed;
    }
  }
  EXPECT_GT(ok, 0u);
  EXPECT_GT(failed, 0u);
  EXPECT_LT(std::chrono::steady_clock::now() - t0, 15s);

  // Back: the same channel reconnects on its next call.
  server = restart();
  auto r = c.SQUAREPROC({.arg1 = 5});
  ASSERT_TRUE(r.ok()) << r.error().to_string();
  EXPECT_EQ(r.value().res1, 25);
}

ringrpc::ChannelOptions square_options() {
  ringrpc::ChannelOptions o;
  o.program = square::SQUARE_VERS_Proto::program;
  o.version = square::SQUARE_VERS_Proto::version;
  o.timeout = 5s;
  return o;
}

TEST(EngineFaults, ServerKilledMidLoadThenRestarted) {
  auto server = std::make_unique<Child>(0);
  const uint16_t port = server->port();
  ASSERT_NE(port, 0);
  ringrpc::ClientRuntime rt;
  ringrpc::ChannelOptions o = square_options();
  o.address = ringrpc::transport::SockAddr::loopback4(port);
  square::SQUARE_VERS_Client c(ringrpc::Channel::create(rt.loop(), o));
  kill_mid_load(c, server, [port] {
    auto s = std::make_unique<Child>(port);
    EXPECT_EQ(s->port(), port);
    return s;
  });
}

// Over shared memory the server's death is seen on the control socket; what it had written to
// the ring before it died is still read. The restarted server replaces the socket file the
// killed one left behind.
TEST(EngineFaults, ServerKilledMidLoadOverSharedMemoryThenRestarted) {
  const std::string path = "/tmp/ringrpc-fault-test-" + std::to_string(::getpid()) + ".shm";
  auto server = std::make_unique<Child>(0, path);
  ASSERT_NE(server->port(), 0);
  ringrpc::ClientRuntime rt;
  ringrpc::ChannelOptions o = square_options();
  o.transport = ringrpc::TransportKind::kShm;
  ASSERT_TRUE(ringrpc::transport::SockAddr::unix_path(path, o.address));
  square::SQUARE_VERS_Client c(ringrpc::Channel::create(rt.loop(), o));
  kill_mid_load(c, server, [&path] { return std::make_unique<Child>(0, path); });
  server.reset();
  ::unlink(path.c_str());
}

}  // namespace
