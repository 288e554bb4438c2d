// Servers that ringrpc-bench starts itself (`--spawn`, `suite`, the instruction count under
// valgrind): started from an argument vector, ready when they print the PRODUCT.md line
// `listening tcp=PORT udp=PORT ...`, stopped by pid with SIGTERM (SIGKILL after a grace period).
// Only processes started here are ever signalled.
//
// Threading: a ServerProcess is used by one thread.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <vector>

namespace ringrpc::bench {

class ServerProcess {
 public:
  ServerProcess() = default;
  ~ServerProcess();  // stops the process if it still runs
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // Starts `argv` with stdout and stderr in files of a private directory and waits up to
  // `ready_within` for its listening line. False, with the reason (and the server's last words),
  // when it cannot be started, exits, or never says it listens.
  bool start(const std::vector<std::string>& argv, std::chrono::milliseconds ready_within,
             std::string* error);
  // SIGTERM, then SIGKILL after `grace`; returns the exit status as a shell would say it (128 +
  // signal for a signal), or -1 if nothing ran.
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(5));

  int pid() const noexcept { return pid_; }
  bool running() const noexcept { return pid_ > 0; }
  // KEY of KEY=VALUE on the listening line: "tcp", "udp", "unix", "shm".
  std::string field(const std::string& key) const;
  const std::string& listening_line() const noexcept { return line_; }
  std::string stderr_text() const;
  const std::string& name() const noexcept { return name_; }

 private:
  int pid_ = -1;
  std::string dir_;
  std::string name_;
  std::string line_;
  std::map<std::string, std::string> fields_;
};

// Splits a command line on blanks, with '...' and "..." quoting (no other shell syntax).
std::vector<std::string> split_command(const std::string& cmd);

}  // namespace ringrpc::bench
