// The registry's table: which program version is served at which universal address over which
// transport, who registered it, and the statistics rpcbind keeps (RPCBPROC_GETSTAT). The rules
// are rpcbind's (1.2.6, rpcb_svc_com.c), because clients and rpcinfo depend on them:
//
// - SET of an existing (program, version, netid) succeeds only with the same address;
//   otherwise the mapping is appended, so DUMP lists registrations in the order they came.
// - UNSET removes every netid (an empty netid) or one, and only the owner's or, for the
//   superuser, anyone's; it answers true even when nothing was registered.
// - A lookup by (program, version, netid) returns the exact version, else any version of the
//   program on that netid (the client then learns the versions from PROG_MISMATCH).
// - The portmap v2 list is the tcp and udp part of the same table.
//
// Beyond rpcbind: registrations persist in a state file written atomically on every change, and
// a mapping whose address nobody has bound any more (its server died) is removed by sweep(),
// not only when a client happens to look it up. The table is bounded (max_entries).
//
// Threading: every method is thread-safe (one mutex); the server's shards call in concurrently.
#pragma once

#include <array>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace ringrpc::registry {

struct Mapping {
  uint32_t prog = 0;
  uint32_t vers = 0;
  std::string netid;
  std::string addr;   // universal address
  std::string owner;  // "superuser", a uid, or "unknown"

  friend bool operator==(const Mapping&, const Mapping&) = default;
};

struct PmapEntry {
  uint32_t prog, vers, prot, port;
};

// rpcbind's rpcb_stat, per version: index 0 is portmap v2, 1 rpcbind v3, 2 rpcbind v4.
struct VersionStats {
  struct Addr {
    uint32_t prog, vers;
    int32_t success, failure;
    std::string netid;
  };
  struct Rmt {
    uint32_t prog, vers, proc;
    int32_t success, failure, indirect;
    std::string netid;
  };
  std::array<int32_t, 13> info{};  // calls per procedure
  int32_t setinfo = 0;             // successful SETs
  int32_t unsetinfo = 0;           // successful UNSETs
  std::vector<Addr> addrinfo;      // newest first, as rpcbind lists them
  std::vector<Rmt> rmtinfo;
};
using Stats = std::array<VersionStats, 3>;

// Whether anything is bound to a universal address: for TCP and UDP a probe socket that tries
// to bind it (what rpcbind's is_bound does), for a Unix socket a listener on the path in
// /proc/net/unix. Unknown netids and unparsable addresses count as bound: never delete what
// cannot be checked.
bool is_bound(std::string_view netid, std::string_view uaddr);

// The state file's text: a header line, then one mapping per line ("prog vers netid addr
// owner", fields %XX-escaped). parse_state skips lines it cannot read, so a damaged line loses
// one registration, not the others.
std::string format_state(const std::vector<Mapping>& list);
std::vector<Mapping> parse_state(std::string_view text);

class Registry {
 public:
  struct Options {
    std::string state_file;  // "" = registrations live in memory only
    size_t max_entries = 4096;
  };
  explicit Registry(Options options);
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // Reads the state file (a missing file is an empty table); false with `error` when it exists
  // but cannot be read. Entries already in the table are kept.
  bool load(std::string* error = nullptr);

  // While held, changes are not written to the state file (a server starting up registers
  // itself before it reads the file, which must not be overwritten first); releasing writes
  // the table once.
  void hold_writes(bool hold);

  bool set(const Mapping& m);
  bool unset(uint32_t prog, uint32_t vers, std::string_view netid, std::string_view owner);
  std::optional<Mapping> find(uint32_t prog, uint32_t vers, std::string_view netid) const;
  std::optional<PmapEntry> find_pmap(uint32_t prog, uint32_t vers, uint32_t prot) const;
  // The lowest and highest version of `prog` registered on `netid` (0, 0 if none).
  std::pair<uint32_t, uint32_t> versions(uint32_t prog, std::string_view netid) const;
  std::vector<Mapping> dump() const;
  std::vector<PmapEntry> pmap_dump() const;
  size_t size() const;

  // rpcbind's delete_prog: removes the mappings of `prog` whose address is no longer bound.
  void delete_dead(uint32_t prog);
  // The same for every program; returns how many mappings went.
  size_t sweep();

  // Statistics, counted as rpcbind counts them (rpcb_stat.c). `v` is 0, 1 or 2.
  void count_proc(int v, uint32_t proc);
  void count_set(int v, bool ok);
  void count_unset(int v, bool ok);
  void count_getaddr(int v, uint32_t prog, uint32_t vers, std::string_view netid, bool success);
  void count_rmtcall(int v, bool indirect, uint32_t prog, uint32_t vers, uint32_t proc,
                     std::string_view netid, bool found);
  Stats stats() const;

 private:
  bool save_locked(std::string* error);
  bool set_locked(const Mapping& m);
  void persist_locked();
  // Removes mappings of `prog` (every program when nullopt) failing is_bound; the check itself
  // runs without the lock.
  size_t remove_dead(std::optional<uint32_t> prog);

  Options options_;
  mutable std::mutex mu_;
  std::vector<Mapping> list_;
  Stats stats_;
  bool hold_writes_ = false;
};

}  // namespace ringrpc::registry
