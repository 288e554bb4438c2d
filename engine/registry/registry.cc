#include "engine/registry/registry.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "engine/registry/uaddr.h"

namespace ringrpc::registry {
namespace {

constexpr std::string_view kStateHeader = "# ringrpc-bind registrations v1";

bool same_netid(std::string_view a, std::string_view b) {
  return a.size() == b.size() && ::strncasecmp(a.data(), b.data(), a.size()) == 0;
}

// Fields may hold any byte a client sent; the file keeps one mapping per line, fields separated
// by spaces, so space, control bytes, '%' and bytes >= 0x7f are written as %XX.
std::string escape(std::string_view s) {
  std::string out;
  if (s.empty()) return "%";  // an empty field still takes a place on the line
  for (unsigned char c : s) {
    if (c <= 0x20 || c >= 0x7f || c == '%') {
      char buf[4];
      std::snprintf(buf, sizeof buf, "%%%02X", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

bool unescape(std::string_view s, std::string& out) {
  out.clear();
  if (s == "%") return true;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return false;
    unsigned v = 0;
    for (int k = 1; k <= 2; ++k) {
      const char c = s[i + k];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<unsigned>(c - '0');
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<unsigned>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    out += static_cast<char>(v);
    i += 2;
  }
  return true;
}

bool bound_in_proc_net_unix(std::string_view path) {
  std::ifstream in("/proc/net/unix");
  if (!in) return true;  // cannot check: keep it
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    // "Num RefCount Protocol Flags Type St Inode Path": a listener has Flags 00010000.
    std::istringstream f(line);
    std::string num, ref, proto, flags, type, st, inode, p;
    if (!(f >> num >> ref >> proto >> flags >> type >> st >> inode >> p)) continue;
    if (p == path && flags == "00010000") return true;
  }
  return false;
}

}  // namespace

bool is_bound(std::string_view netid, std::string_view uaddr) {
  const NetidInfo* n = find_netid(netid);
  if (n == nullptr) return true;
  if (n->family == AF_UNIX) return bound_in_proc_net_unix(uaddr);
  const std::optional<transport::SockAddr> a = from_uaddr(uaddr, n->family);
  if (!a) return true;
  const bool stream = n->kind == TransportKind::kTcp;
  const int fd = ::socket(n->family, (stream ? SOCK_STREAM : SOCK_DGRAM) | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;
  if (stream) {
    // Connections the dead server left in TIME_WAIT must not keep it "alive"; a listener still
    // refuses this bind, SO_REUSEADDR or not.
    const int one = 1;
    (void)::setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  }
  if (n->family == AF_INET6) {
    const int one = 1;
    (void)::setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  }
  const int rc = ::bind(fd, a->get(), a->len());
  ::close(fd);
  // EADDRINUSE: someone has it. Any other failure (an address not on this host, no permission
  // for a low port) means we cannot tell, so it stays.
  return rc != 0;
}

Registry::Registry(Options options) : options_(std::move(options)) {}

std::string format_state(const std::vector<Mapping>& list) {
  std::string text(kStateHeader);
  text += '\n';
  for (const Mapping& m : list) {
    text += std::to_string(m.prog) + ' ' + std::to_string(m.vers) + ' ' + escape(m.netid) + ' ' +
            escape(m.addr) + ' ' + escape(m.owner) + '\n';
  }
  return text;
}

std::vector<Mapping> parse_state(std::string_view text) {
  std::vector<Mapping> out;
  while (!text.empty()) {
    const size_t nl = text.find('\n');
    const std::string_view line = text.substr(0, nl);
    text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
    if (line.empty() || line[0] == '#') continue;
    std::istringstream f{std::string(line)};
    Mapping m;
    std::string netid, addr, owner, extra;
    if (!(f >> m.prog >> m.vers >> netid >> addr >> owner) || (f >> extra) ||
        !unescape(netid, m.netid) || !unescape(addr, m.addr) || !unescape(owner, m.owner)) {
      continue;
    }
    out.push_back(std::move(m));
  }
  return out;
}

bool Registry::load(std::string* error) {
  if (options_.state_file.empty()) return true;
  std::ifstream in(options_.state_file, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return true;
    if (error != nullptr) {
      *error = "cannot read " + options_.state_file + ": " + std::strerror(errno);
    }
    return false;
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::lock_guard<std::mutex> lock(mu_);
  for (const Mapping& m : parse_state(text.str())) (void)set_locked(m);
  return true;
}

bool Registry::set_locked(const Mapping& m) {
  const Mapping* hit = nullptr;
  for (const Mapping& e : list_) {
    if (e.prog != m.prog || !same_netid(e.netid, m.netid)) continue;
    hit = &e;
    if (e.vers == m.vers) break;
  }
  if (hit != nullptr && hit->vers == m.vers) return hit->addr == m.addr;
  if (list_.size() >= options_.max_entries) return false;
  list_.push_back(m);
  return true;
}

bool Registry::set(const Mapping& m) {
  std::lock_guard<std::mutex> lock(mu_);
  const size_t before = list_.size();
  const bool ok = set_locked(m);
  if (list_.size() != before) persist_locked();
  return ok;
}

bool Registry::unset(uint32_t prog, uint32_t vers, std::string_view netid, std::string_view owner) {
  std::lock_guard<std::mutex> lock(mu_);
  bool removed = false;
  for (auto it = list_.begin(); it != list_.end();) {
    if (it->prog != prog || it->vers != vers || (!netid.empty() && !same_netid(netid, it->netid))) {
      ++it;
      continue;
    }
    // Only the owner, or the superuser, may remove a mapping (rpcbind stops at the first
    // refusal, keeping what it already removed).
    if (owner != "superuser" && it->owner != owner) {
      if (removed) persist_locked();
      return false;
    }
    it = list_.erase(it);
    removed = true;
  }
  if (removed) persist_locked();
  return true;
}

std::optional<Mapping> Registry::find(uint32_t prog, uint32_t vers, std::string_view netid) const {
  std::lock_guard<std::mutex> lock(mu_);
  const Mapping* hit = nullptr;
  for (const Mapping& e : list_) {
    if (e.prog != prog || !same_netid(e.netid, netid)) continue;
    hit = &e;
    if (e.vers == vers) break;
  }
  if (hit == nullptr) return std::nullopt;
  return *hit;
}

std::vector<PmapEntry> Registry::pmap_dump() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::vector<PmapEntry> out;
  for (const Mapping& e : list_) {
    const uint32_t prot = ipproto_of_netid(e.netid);
    if (prot == 0) continue;
    const std::optional<uint16_t> port = uaddr_port(e.addr);
    if (!port) continue;
    out.push_back({e.prog, e.vers, prot, *port});
  }
  return out;
}

std::optional<PmapEntry> Registry::find_pmap(uint32_t prog, uint32_t vers, uint32_t prot) const {
  std::optional<PmapEntry> hit;
  for (const PmapEntry& e : pmap_dump()) {
    if (e.prog != prog || e.prot != prot) continue;
    hit = e;
    if (e.vers == vers) break;
  }
  return hit;
}

std::pair<uint32_t, uint32_t> Registry::versions(uint32_t prog, std::string_view netid) const {
  std::lock_guard<std::mutex> lock(mu_);
  uint32_t low = 0;
  uint32_t high = 0;
  for (const Mapping& e : list_) {
    if (e.prog != prog || !same_netid(e.netid, netid)) continue;
    if (low == 0) {
      low = high = e.vers;
    } else if (e.vers < low) {
      low = e.vers;
    } else if (e.vers > high) {
      high = e.vers;
    }
  }
  return {low, high};
}

std::vector<Mapping> Registry::dump() const {
  std::lock_guard<std::mutex> lock(mu_);
  return list_;
}

size_t Registry::size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return list_.size();
}

size_t Registry::remove_dead(std::optional<uint32_t> prog) {
  std::vector<Mapping> candidates;
  {
    std::lock_guard<std::mutex> lock(mu_);
    for (const Mapping& e : list_) {
      if (!prog || e.prog == *prog) candidates.push_back(e);
    }
  }
  std::vector<Mapping> dead;
  for (const Mapping& m : candidates) {
    if (!is_bound(m.netid, m.addr)) dead.push_back(m);
  }
  if (dead.empty()) return 0;
  std::lock_guard<std::mutex> lock(mu_);
  size_t removed = 0;
  for (const Mapping& d : dead) {
    for (auto it = list_.begin(); it != list_.end(); ++it) {
      if (*it == d) {
        list_.erase(it);
        ++removed;
        break;
      }
    }
  }
  if (removed != 0) persist_locked();
  return removed;
}

void Registry::delete_dead(uint32_t prog) { (void)remove_dead(prog); }

size_t Registry::sweep() { return remove_dead(std::nullopt); }

void Registry::hold_writes(bool hold) {
  std::lock_guard<std::mutex> lock(mu_);
  hold_writes_ = hold;
  if (!hold) persist_locked();
}

void Registry::persist_locked() {
  if (hold_writes_) return;
  std::string error;
  if (!save_locked(&error)) {
    std::fprintf(stderr, "ringrpc-bind: %s; registrations will not survive a restart\n",
                 error.c_str());
  }
}

bool Registry::save_locked(std::string* error) {
  if (options_.state_file.empty()) return true;
  const std::string text = format_state(list_);
  // Written to a temporary file, flushed to disk, then renamed over the old one: a crash at any
  // point leaves either the old state or the new, never half of one.
  const std::string tmp = options_.state_file + ".tmp";
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  auto fail = [&](const char* what) {
    if (error != nullptr) *error = std::string(what) + " " + tmp + ": " + std::strerror(errno);
    return false;
  };
  if (fd < 0) return fail("cannot create");
  size_t off = 0;
  while (off < text.size()) {
    const ssize_t n = ::write(fd, text.data() + off, text.size() - off);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      ::close(fd);
      return fail("cannot write");
    }
    off += static_cast<size_t>(n);
  }
  if (::fsync(fd) != 0) {
    ::close(fd);
    return fail("cannot fsync");
  }
  ::close(fd);
  if (::rename(tmp.c_str(), options_.state_file.c_str()) != 0) return fail("cannot rename");
  const size_t slash = options_.state_file.rfind('/');
  const std::string dir =
      slash == std::string::npos ? "." : options_.state_file.substr(0, slash + 1);
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    (void)::fsync(dfd);  // the rename itself reaches the disk
    ::close(dfd);
  }
  return true;
}

void Registry::count_proc(int v, uint32_t proc) {
  static constexpr uint32_t kHigh[3] = {5, 8, 12};  // highest procedure per version
  if (v < 0 || v > 2 || proc > kHigh[v]) return;
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_[static_cast<size_t>(v)].info[proc];
}

void Registry::count_set(int v, bool ok) {
  if (v < 0 || v > 2 || !ok) return;
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_[static_cast<size_t>(v)].setinfo;
}

void Registry::count_unset(int v, bool ok) {
  if (v < 0 || v > 2 || !ok) return;
  std::lock_guard<std::mutex> lock(mu_);
  ++stats_[static_cast<size_t>(v)].unsetinfo;
}

void Registry::count_getaddr(int v, uint32_t prog, uint32_t vers, std::string_view netid,
                             bool success) {
  if (v < 0 || v > 2 || find_netid(netid) == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto& list = stats_[static_cast<size_t>(v)].addrinfo;
  for (auto& a : list) {
    if (a.prog == prog && a.vers == vers && a.netid == netid) {
      ++(success ? a.success : a.failure);
      return;
    }
  }
  if (list.size() >= options_.max_entries) return;  // bounded like the table
  list.insert(list.begin(), {prog, vers, success ? 1 : 0, success ? 0 : 1, std::string(netid)});
}

void Registry::count_rmtcall(int v, bool indirect, uint32_t prog, uint32_t vers, uint32_t proc,
                             std::string_view netid, bool found) {
  if (v < 0 || v > 2 || find_netid(netid) == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto& list = stats_[static_cast<size_t>(v)].rmtinfo;
  for (auto& r : list) {
    if (r.prog == prog && r.vers == vers && r.proc == proc && r.netid == netid) {
      ++(found ? r.success : r.failure);
      if (indirect) ++r.indirect;
      return;
    }
  }
  if (list.size() >= options_.max_entries) return;
  list.insert(list.begin(),
              {prog, vers, proc, found ? 1 : 0, found ? 0 : 1, 1, std::string(netid)});
}

Stats Registry::stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stats_;
}

}  // namespace ringrpc::registry
