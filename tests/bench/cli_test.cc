// ringrpc-bench as its users run it: the binary against square-server over TCP, UDP and a Unix
// socket, the files it writes (JSON as compare reads it, HTML, SVG), errors by kind, a server it
// spawns itself, and its exit codes for bad usage, a refused connection and unreadable input.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "bench/loadgen/process.h"

namespace ringrpc::bench {
namespace {

using nlohmann::json;

const std::string kBench = RINGRPC_BENCH;
const std::string kServer = RINGRPC_SQUARE_SERVER;
const std::string kProg = "--prog 0x31230000 ";
const std::string kQuick = "--warmup 0.1 --duration 0.3 --repetitions 2 --quiet ";

struct Outcome {
  int status = -1;
  std::string out;
};

// Both streams by default; " 2>&1 >/dev/null" keeps only stderr.
Outcome run(const std::string& args, const std::string& redirect = " 2>&1") {
  Outcome r;
  const std::string cmd = kBench + " " + args + redirect;
  FILE* p = popen(cmd.c_str(), "r");
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
  const int st = pclose(p);
  r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
  return r;
}

std::string slurp(const std::string& path) {
  std::ifstream f(path);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ =
        std::filesystem::temp_directory_path() / ("ringrpc-bench-cli." + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    std::string err;
    ASSERT_TRUE(server_.start({kServer, "--port", "0", "--no-register", "--shards", "1", "--unix",
                               (dir_ / "sq.sock").string()},
                              std::chrono::seconds(10), &err))
        << err;
  }
  void TearDown() override {
    server_.stop();
    std::filesystem::remove_all(dir_);
  }
  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string tcp() const { return "--port " + server_.field("tcp") + " "; }

  std::filesystem::path dir_;
  ServerProcess server_;
};

TEST_F(Cli, TcpRunWritesEveryFile) {
  const Outcome r = run(tcp() + kProg + "--proc 1 --args-hex 00000007 --connections 2 --depth 4 " +
                        kQuick + "--json " + path("r.json") + " --html " + path("r.html") +
                        " --svg " + path("r.svg") + " --label smoke");
  ASSERT_EQ(r.status, 0) << r.out;
  EXPECT_NE(r.out.find("throughput: median"), std::string::npos) << r.out;
  const json j = json::parse(slurp(path("r.json")));
  EXPECT_EQ(j["tool"], "ringrpc-bench");
  EXPECT_EQ(j["schema"], 1);
  EXPECT_EQ(j["mode"], "closed");
  EXPECT_EQ(j["label"], "smoke");
  ASSERT_EQ(j["repetitions"].size(), 2u);
  for (const json& rep : j["repetitions"]) {
    EXPECT_GT(rep["calls"].get<double>(), 0);
    EXPECT_EQ(rep["errors"].get<double>(), 0);
    EXPECT_GT(rep["p99_us"].get<double>(), rep["p50_us"].get<double>() * 0.99);
    EXPECT_TRUE(rep.contains("client_cpu_us_per_call"));
  }
  EXPECT_FALSE(j["environment"]["kernel"].get<std::string>().empty());
  EXPECT_FALSE(j["environment"]["client_backend"].get<std::string>().empty());
  EXPECT_FALSE(j["histogram"]["buckets"].empty());
  EXPECT_EQ(j["timeline"]["t"].size(), j["timeline"]["p99_us"].size());
  EXPECT_GE(j["timeline"]["t"].size(), 5u);
  EXPECT_EQ(slurp(path("r.svg")).rfind("<svg", 0), 0u);
  const std::string html = slurp(path("r.html"));
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_NE(html.find("Latency by percentile"), std::string::npos);
  // The files compare reads: the same run against itself does not regress on throughput.
  const Outcome c =
      run("compare " + path("r.json") + " " + path("r.json") + " --metric calls_per_sec");
  EXPECT_EQ(c.status, 0) << c.out;
}

TEST_F(Cli, UdpAndUnix) {
  const Outcome u = run("--transport udp --port " + server_.field("udp") + " " + kProg + kQuick +
                        "--json " + path("u.json"));
  ASSERT_EQ(u.status, 0) << u.out;
  EXPECT_EQ(json::parse(slurp(path("u.json")))["target"]["transport"], "udp");
  const Outcome x = run("--unix " + path("sq.sock") + " " + kProg + kQuick);
  EXPECT_EQ(x.status, 0) << x.out;
  EXPECT_NE(x.out.find("unix "), std::string::npos) << x.out;
}

TEST_F(Cli, SharedMemoryFromAPathOrFromTheSpawnedServersLine) {
  const Outcome x =
      run("--spawn '" + kServer + " --port 0 --no-register --shards 1 --shm " + path("sq.shm") +
          "' --transport shm " + kProg + kQuick + "--json " + path("m.json"));
  ASSERT_EQ(x.status, 0) << x.out;
  EXPECT_NE(x.out.find("shm " + path("sq.shm")), std::string::npos) << x.out;
  EXPECT_EQ(json::parse(slurp(path("m.json")))["target"]["transport"], "shm");
  const Outcome none = run("--transport shm " + kProg + kQuick);
  EXPECT_EQ(none.status, 1) << none.out;
  EXPECT_NE(none.out.find("needs --shm PATH"), std::string::npos) << none.out;
}

TEST_F(Cli, ErrorsByKind) {
  const Outcome r = run(tcp() + kProg + "--proc 99 " + kQuick + "--json " + path("e.json"));
  EXPECT_EQ(r.status, 1) << r.out;
  EXPECT_NE(r.out.find("Procedure unavailable"), std::string::npos) << r.out;
  // The figures are written even when calls failed: they say how.
  const json j = json::parse(slurp(path("e.json")));
  EXPECT_GT(j["repetitions"][0]["errors_by_kind"]["PROC_UNAVAIL"].get<double>(), 0);
  const Outcome m = run(tcp() + "--prog 0x31230000 --vers 9 " + kQuick);
  EXPECT_EQ(m.status, 1);
  EXPECT_NE(m.out.find("mismatch"), std::string::npos) << m.out;
  // A script that keeps only stderr (stdout to /dev/null, then the status tested) still learns
  // why the status is 1; with --allow-errors it is 0 and nothing is said there.
  const Outcome quiet = run(tcp() + kProg + "--proc 99 " + kQuick, " 2>&1 >/dev/null");
  EXPECT_EQ(quiet.status, 1) << quiet.out;
  EXPECT_NE(quiet.out.find("calls failed ("), std::string::npos) << quiet.out;
  EXPECT_NE(quiet.out.find(" x RPC: Procedure unavailable"), std::string::npos) << quiet.out;
  const Outcome allowed =
      run(tcp() + kProg + "--proc 99 --allow-errors " + kQuick, " 2>&1 >/dev/null");
  EXPECT_EQ(allowed.status, 0) << allowed.out;
  EXPECT_EQ(allowed.out, "") << allowed.out;
}

TEST_F(Cli, SpawnsItsServerAndReadsItsCpu) {
  const Outcome r = run("--spawn '" + kServer + " --port 0 --no-register --shards 1' " + kProg +
                        "--connections 4 --depth 8 " + kQuick + "--json " + path("s.json"));
  ASSERT_EQ(r.status, 0) << r.out;
  const json j = json::parse(slurp(path("s.json")));
  EXPECT_TRUE(j["target"].contains("server_pid"));
  EXPECT_TRUE(j["repetitions"][0].contains("server_cpu_us_per_call"));
}

TEST_F(Cli, OpenLoopRecordsItsMode) {
  const Outcome r =
      run(tcp() + kProg + "--rate 2000 --connections 2 " + kQuick + "--json " + path("o.json"));
  ASSERT_EQ(r.status, 0) << r.out;
  const json j = json::parse(slurp(path("o.json")));
  EXPECT_EQ(j["mode"], "open");
  const double rate = j["summary"]["calls_per_sec"].get<double>();
  EXPECT_NEAR(rate, 2000, 300);
  EXPECT_TRUE(j["summary"].contains("open_loop"));
}

TEST(CliUsage, ExitCodes) {
  EXPECT_EQ(run("--help").status, 0);
  EXPECT_EQ(run("--bogus").status, 2);
  EXPECT_EQ(run("--port").status, 2);
  EXPECT_EQ(run("--port 1").status, 2);  // no --prog
  EXPECT_EQ(run("--prog no-such-program-name").status, 2);
  EXPECT_EQ(run("compare only-one.json").status, 2);
  EXPECT_EQ(run("compare /nonexistent/a.json /nonexistent/b.json").status, 2);
  // Nothing listens on port 1: a clear error, at once.
  const auto t0 = std::chrono::steady_clock::now();
  const Outcome r = run("--port 1 --prog 0x31230000 --duration 5 --quiet");
  EXPECT_EQ(r.status, 1);
  EXPECT_NE(r.out.find("refused"), std::string::npos) << r.out;
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
}

}  // namespace
}  // namespace ringrpc::bench
