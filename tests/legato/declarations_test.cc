// The proxy's declarations file (engine/legato/declarations.h) and the call table of its data
// path (engine/legato/id_map.h).
#include "engine/legato/declarations.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>

#include "engine/legato/id_map.h"

namespace ringrpc::legato {
namespace {

TEST(Declarations, HelloRpcShape) {
  std::string error;
  auto d = Declarations::parse(
      "# Alice\n"
      "system Alice\n"
      "extern:\n"
      "{\n"
      "    squareServer = server 824377344 1                 # through the registry\n"
      "    echoServer = server 0x31230001 1 at 127.0.0.1 40000\n"
      "    unixServer = server 824377344 2 at unix /run/sq.sock\n"
      "    shmServer = server 824377344 3 at shm /run/sq.shm\n"
      "    echoClient = client rpcbind 4 as 0x20000099 7 port 40001\n"
      "}\n"
      "links:\n"
      "{\n"
      "    LinkToBob = networkSocket listen\n"
      "    LinkToCarol = (networkSocket) connect\n"
      "}\n",
      &error);
  ASSERT_TRUE(d) << error;
  EXPECT_EQ(d->system_name, "Alice");
  ASSERT_EQ(d->externs.size(), 5u);
  const Extern& sq = d->externs[0];
  EXPECT_EQ(sq.kind, ExternKind::kServer);
  EXPECT_EQ(sq.program, 824377344u);
  EXPECT_FALSE(sq.server_address.has_value());
  ASSERT_TRUE(d->externs[1].server_address.has_value());
  EXPECT_EQ(d->externs[1].server_address->to_string(), "127.0.0.1:40000");
  EXPECT_EQ(d->externs[1].program, 0x31230001u);
  EXPECT_TRUE(d->externs[2].server_address->is_unix());
  EXPECT_FALSE(d->externs[2].server_shm);
  ASSERT_TRUE(d->externs[3].server_address.has_value());
  EXPECT_TRUE(d->externs[3].server_shm);
  EXPECT_EQ(d->externs[3].server_address->host_string(), "/run/sq.shm");
  const Extern* ec = d->find_extern("echoClient");
  ASSERT_NE(ec, nullptr);
  EXPECT_EQ(ec->kind, ExternKind::kClient);
  EXPECT_EQ(ec->program, 100000u);  // /etc/rpc's name for the registry
  EXPECT_EQ(ec->version, 4u);
  EXPECT_EQ(ec->local_program, 0x20000099u);
  EXPECT_EQ(ec->local_version, 7u);
  EXPECT_EQ(ec->local_port, 40001);
  ASSERT_EQ(d->links.size(), 2u);
  EXPECT_EQ(d->find_link("LinkToBob")->role, LinkRole::kListen);
  EXPECT_EQ(d->find_link("LinkToCarol")->role, LinkRole::kConnect);
  EXPECT_EQ(d->find_link("nope"), nullptr);
}

TEST(Declarations, ClientDefaultsToTheRemoteProgram) {
  std::string error;
  auto d = Declarations::parse("extern:\n{\n c = client 7 3\n}\n", &error);
  ASSERT_TRUE(d) << error;
  EXPECT_EQ(d->externs[0].local_program, 7u);
  EXPECT_EQ(d->externs[0].local_version, 3u);
  EXPECT_EQ(d->externs[0].local_port, 0);
}

TEST(Declarations, ErrorsNameTheLine) {
  const std::pair<const char*, const char*> cases[] = {
      {"bogus\n", "line 1: unknown keyword \"bogus\""},
      {"extern:\n{\n a = server 1\n}\n", "line 3: expected: a = server PROGRAM VERSION"},
      {"extern:\n{\n a = server nosuchprogram 1\n}\n", "line 3: unknown program"},
      {"extern:\n{\n a = server 1 x\n}\n", "line 3: bad version"},
      {"extern:\n{\n a = server 1 1\n a = client 1 1\n}\n", "line 4: alias \"a\" declared twice"},
      {"extern:\n{\n a.b = server 1 1\n}\n", "line 3: bad alias"},
      {"extern:\n{\n a = server 1 1 port 5\n}\n", "line 3: unknown option \"port\""},
      {"extern:\n{\n a = client 1 1 at 1.2.3.4 5\n}\n", "line 3: unknown option \"at\""},
      {"extern:\n{\n a = client 1 1 port 70000\n}\n", "line 3: expected: port N"},
      {"extern:\n{\n a = server 1 1 at nowhere 5\n}\n", "line 3: at:"},
      {"extern:\n{\n a = server 1 1 at shm\n}\n", "line 3: expected: at HOST PORT"},
      {"extern:\n{\n a = client 1 1 as 5\n}\n", "line 3: expected: as PROGRAM VERSION"},
      {"links:\n{\n L = tcpSocket listen\n}\n", "line 3: unknown link kind \"tcpSocket\""},
      {"links:\n{\n L = networkSocket both\n}\n", "line 3: expected: L = networkSocket"},
      {"links:\n{\n L = networkSocket listen\n L = networkSocket connect\n}\n",
       "line 4: link \"L\" declared twice"},
      {"extern:\n{\n", "a section's \"{\" is not closed"},
      {"}\n", "line 1: unexpected \"}\""},
      {"extern:\n{\nsystem A\n}\n", "line 3: \"system\" inside a section"},
  };
  for (const auto& [text, want] : cases) {
    std::string error;
    EXPECT_FALSE(Declarations::parse(text, &error)) << text;
    EXPECT_NE(error.find(want), std::string::npos) << text << " -> " << error;
  }
  std::string error;
  EXPECT_FALSE(Declarations::parse(
      "extern:\n{\n a = server 1 1 at shm /" + std::string(200, 'x') + "\n}\n", &error));
  EXPECT_NE(error.find("line 3: at shm: the path"), std::string::npos) << error;
}

TEST(Declarations, MissingFile) {
  std::string error;
  EXPECT_FALSE(load_declarations("/nonexistent/proxy.decl", &error));
  EXPECT_NE(error.find("/nonexistent/proxy.decl"), std::string::npos);
}

// IdMap against std::map under random inserts and erases, with keys that collide in the table
// and sequential ones like the proxy's ids.
TEST(IdMap, AgreesWithStdMap) {
  std::mt19937 rng(7);
  IdMap<uint64_t> m;
  std::map<uint32_t, uint64_t> ref;
  uint32_t next = 1;
  for (int i = 0; i < 200000; ++i) {
    const int op = static_cast<int>(rng() % 10);
    if (op < 5) {
      uint32_t k = (rng() % 3 == 0) ? static_cast<uint32_t>(rng()) : next++;
      m.put(k, i);
      ref[k] = i;
    } else if (op < 9 && !ref.empty()) {
      auto it = ref.lower_bound(static_cast<uint32_t>(rng() % next));
      if (it == ref.end()) it = ref.begin();
      EXPECT_TRUE(m.erase(it->first));
      ref.erase(it);
    } else {
      uint32_t k = static_cast<uint32_t>(rng() % (next + 10));
      uint64_t* v = m.find(k);
      auto it = ref.find(k);
      ASSERT_EQ(v != nullptr, it != ref.end()) << k;
      if (v != nullptr) {
        EXPECT_EQ(*v, it->second);
      }
    }
    ASSERT_EQ(m.size(), ref.size());
  }
  for (auto& [k, v] : ref) {
    uint64_t* got = m.find(k);
    ASSERT_NE(got, nullptr);
    EXPECT_EQ(*got, v);
  }
  size_t seen = 0;
  m.for_each([&](uint32_t k, uint64_t& v) {
    ++seen;
    EXPECT_EQ(ref.at(k), v);
  });
  EXPECT_EQ(seen, ref.size());
  EXPECT_EQ(m.erase_if([](uint32_t k, uint64_t&) { return k % 2 == 0; }),
            static_cast<size_t>(
                std::count_if(ref.begin(), ref.end(), [](auto& p) { return p.first % 2 == 0; })));
  const uint32_t absent = next + 100;  // above every sequential key; random ones may be anywhere
  if (ref.count(absent) == 0) {
    EXPECT_FALSE(m.erase(absent));
  }
}

// The data path's pattern: sequential ids, 512 in flight, while a few calls stay in flight for
// many laps of the ring (a slow call): their slots are taken again by new ids, which then go to
// the overflow; every call is found until it ends, and nothing else is.
TEST(IdMap, LongLivedCallsAmongSequentialOnes) {
  IdMap<uint32_t> m;
  std::map<uint32_t, uint32_t> ref;
  const uint32_t slow[] = {3, 700, 701, 5000};
  uint32_t next = 1;
  for (int i = 0; i < 100000; ++i) {
    const uint32_t k = next++;
    m.put(k, k * 3);
    ref[k] = k * 3;
    if (ref.size() > 512) {
      // The oldest call that is not a slow one ends.
      for (auto it = ref.begin(); it != ref.end(); ++it) {
        if (std::find(std::begin(slow), std::end(slow), it->first) != std::end(slow)) continue;
        ASSERT_TRUE(m.erase(it->first)) << it->first;
        ref.erase(it);
        break;
      }
    }
    if (i % 997 == 0) {
      for (uint32_t s : slow) {
        if (s < next) {
          ASSERT_NE(m.find(s), nullptr) << s;
          EXPECT_EQ(*m.find(s), s * 3);
        }
      }
      EXPECT_EQ(m.find(next + 1), nullptr);
      const uint32_t ended = k - 600;
      if (k > 600 && std::find(std::begin(slow), std::end(slow), ended) == std::end(slow)) {
        EXPECT_EQ(m.find(ended), nullptr);
      }
    }
    ASSERT_EQ(m.size(), ref.size());
  }
  for (auto& [k, v] : ref) {
    ASSERT_NE(m.find(k), nullptr) << k;
    EXPECT_EQ(*m.find(k), v);
  }
  for (uint32_t s : slow) EXPECT_TRUE(m.erase(s));
  EXPECT_EQ(m.size(), ref.size() - 4);
}

}  // namespace
}  // namespace ringrpc::legato
