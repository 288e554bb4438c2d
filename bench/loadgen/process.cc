#include "bench/loadgen/process.h"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

namespace ringrpc::bench {

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

std::string last_lines(const std::string& text, int n) {
  size_t at = text.size();
  while (at > 0 && text[at - 1] == '\n') --at;
  for (int i = 0; i < n && at > 0; ++i) {
    const size_t nl = text.rfind('\n', at - 1);
    at = nl == std::string::npos ? 0 : nl;
  }
  std::string s = text.substr(at == 0 ? 0 : at + 1);
  while (!s.empty() && s.back() == '\n') s.pop_back();
  for (char& c : s) {
    if (c == '\n') c = ' ';
  }
  return s;
}

}  // namespace

std::vector<std::string> split_command(const std::string& cmd) {
  std::vector<std::string> out;
  std::string cur;
  bool have = false;
  char quote = 0;
  for (char c : cmd) {
    if (quote != 0) {
      if (c == quote) {
        quote = 0;
      } else {
        cur += c;
      }
    } else if (c == '\'' || c == '"') {
      quote = c;
      have = true;
    } else if (c == ' ' || c == '\t' || c == '\n') {
      if (have) out.push_back(cur);
      cur.clear();
      have = false;
    } else {
      cur += c;
      have = true;
    }
  }
  if (have) out.push_back(cur);
  return out;
}

ServerProcess::~ServerProcess() {
  stop(std::chrono::seconds(2));
  if (!dir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
}

bool ServerProcess::start(const std::vector<std::string>& argv,
                          std::chrono::milliseconds ready_within, std::string* error) {
  if (argv.empty()) {
    *error = "no command to start";
    return false;
  }
  name_ = std::filesystem::path(argv[0]).filename().string();
  if (dir_.empty()) {
    char tmpl[] = "/tmp/ringrpc-bench.XXXXXX";
    if (mkdtemp(tmpl) == nullptr) {
      *error = std::string("mkdtemp: ") + std::strerror(errno);
      return false;
    }
    dir_ = tmpl;
  }
  const std::string out = dir_ + "/stdout";
  const std::string err = dir_ + "/stderr";
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    *error = std::string("fork: ") + std::strerror(errno);
    return false;
  }
  if (pid == 0) {
    const int o = open(out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int e = open(err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int in = open("/dev/null", O_RDONLY);
    if (o < 0 || e < 0 || in < 0) _exit(127);
    dup2(in, 0);
    dup2(o, 1);
    dup2(e, 2);
    // The benchmark's own signal mask must not leak into the server (it would ignore SIGTERM).
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, nullptr);
    execvp(args[0], args.data());
    dprintf(2, "cannot run %s: %s\n", args[0], std::strerror(errno));
    _exit(127);
  }
  pid_ = pid;
  const auto give_up = std::chrono::steady_clock::now() + ready_within;
  while (std::chrono::steady_clock::now() < give_up) {
    const std::string text = read_file(out);
    const size_t at = text.find("listening");
    if (at != std::string::npos && text.find('\n', at) != std::string::npos) {
      line_ = text.substr(at, text.find('\n', at) - at);
      std::istringstream words(line_);
      std::string w;
      while (words >> w) {
        const size_t eq = w.find('=');
        if (eq != std::string::npos) fields_[w.substr(0, eq)] = w.substr(eq + 1);
      }
      return true;
    }
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      *error = name_ + " exited before it listened: " + last_lines(read_file(err), 3);
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  *error = name_ + " did not print its listening line within " +
           std::to_string(ready_within.count()) + " ms: " + last_lines(read_file(err), 3);
  stop(std::chrono::seconds(1));
  return false;
}

int ServerProcess::stop(std::chrono::milliseconds grace) {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  const auto give_up = std::chrono::steady_clock::now() + grace;
  int status = 0;
  while (true) {
    const pid_t r = waitpid(pid_, &status, WNOHANG);
    if (r == pid_ || (r < 0 && errno == ECHILD)) break;
    if (std::chrono::steady_clock::now() >= give_up) {
      kill(pid_, SIGKILL);
      waitpid(pid_, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  pid_ = -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

std::string ServerProcess::field(const std::string& key) const {
  const auto it = fields_.find(key);
  return it == fields_.end() ? std::string() : it->second;
}

std::string ServerProcess::stderr_text() const {
  return dir_.empty() ? std::string() : read_file(dir_ + "/stderr");
}

}  // namespace ringrpc::bench
