// The proxy's run-time configuration: Legato's slot rules (reuse by name, then the first
// <EMPTY> slot, then append; reset empties all three fields), the file's strict parser, atomic
// replacement, and writers in several processes that must not lose each other's changes.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "engine/legato/config.h"

namespace ringrpc::legato {
namespace {

TEST(LegatoConfig, SlotsBehaveAsLegatos) {
  RuntimeConfig c;
  std::string err;
  ASSERT_TRUE(c.set_binding({"bobServer", "Bob", "bobClient"}, &err)) << err;
  ASSERT_TRUE(c.set_binding({"aliceClient", "Bob", "aliceServer"}, &err));
  ASSERT_TRUE(c.set_binding({"bobServer", "Carol", "bobClient2"}, &err));  // same name: same slot
  ASSERT_EQ(c.binding_slots().size(), 2u);
  EXPECT_EQ(c.binding("bobServer")->system_name, "Carol");
  EXPECT_TRUE(c.reset_binding("bobServer"));
  EXPECT_FALSE(c.binding("bobServer"));
  EXPECT_TRUE(c.binding_slots()[0].empty());
  EXPECT_EQ(c.binding_slots()[0].remote_service, "<EMPTY>");
  ASSERT_TRUE(c.set_binding({"third", "Bob", "x"}, &err));  // the first free slot
  EXPECT_EQ(c.binding_slots()[0].service_name, "third");
  ASSERT_TRUE(c.set_binding({"fourth", "Bob", "y"}, &err));  // none free: appended
  EXPECT_EQ(c.binding_slots().size(), 3u);
  EXPECT_FALSE(c.reset_binding("nobody"));
  EXPECT_FALSE(c.reset_binding("<EMPTY>"));

  ASSERT_TRUE(c.set_system({"Bob", "LinkToBob", "192.168.3.2 54323"}, &err));
  EXPECT_TRUE(c.reset_system("Bob"));
  EXPECT_FALSE(c.system("Bob"));
  ASSERT_TRUE(c.set_system({"Alice", "LinkToAlice", "::1 54323"}, &err));
  EXPECT_EQ(c.system_slots().size(), 1u);
}

TEST(LegatoConfig, RefusesWhatTheWireCannotCarry) {
  RuntimeConfig c;
  std::string err;
  EXPECT_FALSE(c.set_binding({"", "Bob", "x"}, &err));
  EXPECT_FALSE(c.set_binding({"s", std::string(64, 'b'), "x"}, &err));  // systemName[64]
  EXPECT_NE(err.find("longer than 63"), std::string::npos);
  EXPECT_TRUE(c.set_binding({"s", std::string(63, 'b'), std::string(127, 'r')}, &err));
  EXPECT_FALSE(c.set_binding({"s", "Bob", std::string(128, 'r')}, &err));
  EXPECT_FALSE(c.set_binding({"<EMPTY>", "Bob", "x"}, &err));
  EXPECT_FALSE(c.set_binding({"a\nb", "Bob", "x"}, &err));
  EXPECT_FALSE(c.set_system({"Bob", "L", "a b c d"}, &err));
  EXPECT_NE(err.find("at most 3"), std::string::npos);
}

TEST(LegatoConfig, FileRoundTripsAndParsesStrictly) {
  RuntimeConfig c;
  std::string err;
  ASSERT_TRUE(c.set_binding({"bob \"quoted\" \\ server", "Bob", "bobClient"}, &err));
  ASSERT_TRUE(c.set_binding({"gone", "Bob", "x"}, &err));
  c.reset_binding("gone");
  ASSERT_TRUE(c.set_system({"Bob", "LinkToBob", "192.168.3.2 54323"}, &err));
  const std::optional<RuntimeConfig> back = RuntimeConfig::parse(c.format(), &err);
  ASSERT_TRUE(back) << err;
  EXPECT_EQ(*back, c);

  auto error_of = [](const std::string& text) {
    std::string e;
    EXPECT_FALSE(RuntimeConfig::parse(text, &e)) << text;
    return e;
  };
  EXPECT_NE(error_of("bindings/0/serviceName = x\n").find("line 1"), std::string::npos);
  EXPECT_NE(error_of("\nbindings/0/color = \"x\"\n").find("line 2: unknown path"),
            std::string::npos);
  EXPECT_NE(error_of("bindings/1/serviceName = \"a\"\nbindings/1/systemName = \"b\"\n"
                     "bindings/1/remoteService = \"c\"\n")
                .find("bindings/0 is missing"),
            std::string::npos);
  EXPECT_NE(error_of("systems/0/systemName = \"a\"\n").find("lacks a field"), std::string::npos);
  EXPECT_NE(error_of("systems/0/systemName = \"a\"\nsystems/0/systemName = \"b\"\n").find("twice"),
            std::string::npos);
  const std::string dup =
      "bindings/0/serviceName = \"a\"\nbindings/0/systemName = \"b\"\nbindings/0/remoteService = "
      "\"c\"\nbindings/1/serviceName = \"a\"\nbindings/1/systemName = \"b\"\nbindings/1/"
      "remoteService = \"d\"\n";
  EXPECT_NE(error_of(dup).find("bound twice"), std::string::npos);
  EXPECT_TRUE(RuntimeConfig::parse("# only a comment\n\n", &err));
}

class ConfigFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("legato-config." + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    path_ = (dir_ / "proxy.conf").string();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::filesystem::path dir_;
  std::string path_;
};

TEST_F(ConfigFile, MissingIsEmptyAndSavesAtomically) {
  std::string err;
  std::optional<RuntimeConfig> c = load_config(path_, &err);
  ASSERT_TRUE(c) << err;
  EXPECT_TRUE(c->binding_slots().empty());
  ASSERT_TRUE(c->set_binding({"s", "Bob", "r"}, &err));
  ASSERT_TRUE(save_config(path_, *c, &err)) << err;
  EXPECT_EQ(*load_config(path_, &err), *c);
  for (const auto& e : std::filesystem::directory_iterator(dir_)) {
    EXPECT_EQ(e.path().filename().string().find(".tmp."), std::string::npos) << e.path();
  }
  std::ofstream(path_) << "garbage\n";
  EXPECT_FALSE(load_config(path_, &err));
  EXPECT_NE(err.find("proxy.conf: line 1"), std::string::npos) << err;
  // A change that fails leaves the file as it was.
  EXPECT_FALSE(update_config(path_, &err, [](RuntimeConfig&, std::string*) { return true; }));
}

TEST_F(ConfigFile, ConcurrentWritersLoseNothing) {
  constexpr int kWriters = 8;
  constexpr int kEach = 10;
  std::vector<pid_t> kids;
  for (int w = 0; w < kWriters; ++w) {
    const pid_t pid = fork();
    ASSERT_GE(pid, 0);
    if (pid == 0) {
      std::string err;
      for (int i = 0; i < kEach; ++i) {
        const std::string name = "svc" + std::to_string(w) + "_" + std::to_string(i);
        if (!update_config(path_, &err, [&](RuntimeConfig& c, std::string* why) {
              return c.set_binding({name, "Bob", "remote"}, why);
            })) {
          _exit(1);
        }
      }
      _exit(0);
    }
    kids.push_back(pid);
  }
  for (pid_t k : kids) {
    int st = 0;
    waitpid(k, &st, 0);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0);
  }
  std::string err;
  const std::optional<RuntimeConfig> c = load_config(path_, &err);
  ASSERT_TRUE(c) << err;
  EXPECT_EQ(c->binding_slots().size(), static_cast<size_t>(kWriters * kEach));
}

}  // namespace
}  // namespace ringrpc::legato
